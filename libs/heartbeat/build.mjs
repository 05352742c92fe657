// Builds the package twice from one source: ES modules in dist/esm, CommonJS in dist/cjs.
// dist/cjs gets its own package.json so that Node and TypeScript read its .js and .d.ts as CommonJS.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const here = new URL('.', import.meta.url);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(new URL('dist', here), { recursive: true, force: true });
for (const project of ['tsconfig.lib.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: here, stdio: 'inherit' });
}
mkdirSync(new URL('dist/cjs', here), { recursive: true });
writeFileSync(new URL('dist/cjs/package.json', here), '{ "type": "commonjs" }\n');
