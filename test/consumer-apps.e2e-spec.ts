/**
 * The library as its users get it: `npm pack`s libs/heartbeat (built by `npm run build`), installs the tarball into a fresh copy
 * of each outside app in test/consumers (Nest 11 and Nest 12, CommonJS and ESM; each with the
 * package.json and tsconfig its generator makes, and no overrides), compiles the README's quick
 * start there with the app's own TypeScript, and runs it: payloads arrive, the stopped worker times
 * out once, and the process exits by itself. Needs the npm registry (as `npm ci` does).
 */
import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { childProcessEnv } from './fixtures/e2e-utils.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const libraryDir = join(repoRoot, 'libs/heartbeat');
const fixturesDir = join(repoRoot, 'test/consumers');
const INSTALL_TIMEOUT_MS = 240_000;
const RUN_TIMEOUT_MS = 30_000;

const cleanEnv = childProcessEnv();

const npm = (cwd: string, args: string[], timeout = INSTALL_TIMEOUT_MS) =>
  run('npm', args, { cwd, env: cleanEnv, timeout, maxBuffer: 16 * 1024 * 1024 });

/** The first TypeScript block of a README (after `heading`, if given), as written. */
function readmeExample(readmePath: string, heading = ''): string {
  const readme = readFileSync(join(repoRoot, readmePath), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) {
    throw new Error(`${readmePath} has no \`\`\`ts block after "${heading}"`);
  }
  return match[1];
}

/** Every installed copy of a package under `dir`, however deeply nested. */
function installedCopies(dir: string, name: string): string[] {
  const copies: string[] = [];
  const visit = (modules: string) => {
    if (!existsSync(modules)) {
      return;
    }
    if (existsSync(join(modules, name, 'package.json'))) {
      copies.push(join(modules, name));
    }
    for (const entry of readdirSync(modules)) {
      const scoped = entry.startsWith('@')
        ? readdirSync(join(modules, entry)).map((child) => join(entry, child))
        : [entry];
      for (const pkg of scoped) {
        visit(join(modules, pkg, 'node_modules'));
      }
    }
  };
  visit(join(dir, 'node_modules'));
  return copies;
}

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node main` and waits for it to exit by itself: a timer or socket left behind would keep it alive. */
function runToExit(cwd: string, main: string): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { cwd, env: cleanEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface PackResult {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

interface Consumer {
  readonly fixture: string;
  readonly nestMajor: number;
  readonly format: 'commonjs' | 'esm';
}

const CONSUMERS: readonly Consumer[] = [
  { fixture: 'nest11-cjs', nestMajor: 11, format: 'commonjs' },
  { fixture: 'nest11-esm', nestMajor: 11, format: 'esm' },
  { fixture: 'nest12-esm', nestMajor: 12, format: 'esm' },
  // What `nest new` makes for Nest 12: module nodenext without "type": "module", so CommonJS
  // output that loads Nest 12 (ES modules only) with require().
  { fixture: 'nest12-cjs', nestMajor: 12, format: 'commonjs' },
  // Every peer dependency at the oldest version the library's ranges allow.
  { fixture: 'nest11-oldest', nestMajor: 11, format: 'commonjs' },
  { fixture: 'nest12-oldest', nestMajor: 12, format: 'commonjs' },
];

describe('the packed library in outside apps', () => {
  let workDir: string;
  let tarball: string;
  let packedFiles: string[];

  beforeAll(async () => {
    if (!existsSync(join(libraryDir, 'dist/esm/index.js'))) {
      throw new Error(
        'libs/heartbeat/dist is missing: run `npm run build` first (`npm test` does)',
      );
    }
    workDir = mkdtempSync(join(tmpdir(), 'nestjs-heartbeat-consumers-'));
    // The suite's build (`pretest`) made dist/; packing must not rebuild it under the other tests.
    const { stdout } = await npm(libraryDir, [
      'pack',
      '--ignore-scripts',
      '--json',
      '--pack-destination',
      workDir,
    ]);
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [PackResult];
    tarball = join(workDir, packed.filename);
    packedFiles = packed.files.map(({ path }) => path);
  }, INSTALL_TIMEOUT_MS);

  it('packs the two builds with their declarations, and nothing else', () => {
    const shipped =
      /^(LICENSE|README\.md|package\.json|dist\/cjs\/package\.json|dist\/(esm|cjs)\/.+\.(js|d\.ts))$/;
    expect(packedFiles.filter((path) => !shipped.test(path))).toEqual([]);
    expect(packedFiles.filter((path) => /\.spec\.|(^|\/)test\//.test(path))).toEqual([]);
    const build = (format: string) =>
      packedFiles
        .filter((path) => path.startsWith(`dist/${format}/`) && /\.(js|d\.ts)$/.test(path))
        .map((path) => path.slice(`dist/${format}/`.length))
        .toSorted();
    expect(build('esm')).toContain('index.js');
    expect(build('esm')).toContain('index.d.ts');
    expect(build('cjs')).toEqual(build('esm'));
  });

  afterAll(() => {
    if (workDir) {
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  describe.each(CONSUMERS)(
    '$fixture (Nest $nestMajor, $format)',
    ({ fixture, nestMajor, format }) => {
      let appDir: string;
      let main: string;

      beforeAll(async () => {
        appDir = join(workDir, fixture);
        cpSync(join(fixturesDir, fixture), appDir, { recursive: true });
        writeFileSync(
          join(appDir, 'src/quick-start.ts'),
          readmeExample('README.md', '\n## Quick start\n'),
        );
        // The package's own README (what npm shows) must compile too.
        writeFileSync(
          join(appDir, 'src/package-readme.ts'),
          readmeExample('libs/heartbeat/README.md'),
        );
        cpSync(join(fixturesDir, 'shared/frame-limit.ts'), join(appDir, 'src/frame-limit.ts'));
        await npm(appDir, ['install', '--no-audit', '--no-fund', tarball]);
        main = (JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { main: string })
          .main;
      }, INSTALL_TIMEOUT_MS);

      it('installs one copy of Nest, the one the app chose, and the library with none of its own', () => {
        const cores = installedCopies(appDir, '@nestjs/core');
        expect(cores).toEqual([join(appDir, 'node_modules/@nestjs/core')]);
        const core = JSON.parse(readFileSync(join(cores[0], 'package.json'), 'utf8')) as {
          version: string;
        };
        expect(Number(core.version.split('.')[0])).toBe(nestMajor);
        for (const peer of [
          '@nestjs/common',
          '@nestjs/microservices',
          'rxjs',
          'reflect-metadata',
        ]) {
          expect(installedCopies(appDir, peer)).toHaveLength(1);
        }
        expect(existsSync(join(appDir, 'node_modules/nestjs-heartbeat/node_modules/@nestjs'))).toBe(
          false,
        );
      });

      it(`resolves the library's ${format} build`, async () => {
        const resolve =
          format === 'commonjs'
            ? ['-p', "require.resolve('nestjs-heartbeat')"]
            : ['--input-type=module', '-e', "console.log(import.meta.resolve('nestjs-heartbeat'))"];
        const { stdout } = await run(process.execPath, resolve, { cwd: appDir, env: cleanEnv });
        expect(stdout.trim()).toMatch(
          format === 'commonjs'
            ? /node_modules\/nestjs-heartbeat\/dist\/cjs\/index\.js$/
            : /node_modules\/nestjs-heartbeat\/dist\/esm\/index\.js$/,
        );
      });

      it("compiles the README's quick start with the app's own tsc, and runs it to a clean exit", async () => {
        await run(
          process.execPath,
          ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
          {
            cwd: appDir,
            env: cleanEnv,
            timeout: 120_000,
          },
        ).catch((error: { stdout?: string; message: string }) => {
          throw new Error(`tsc failed in ${fixture}:\n${error.stdout ?? error.message}`);
        });
        const compiled = readFileSync(join(appDir, main), 'utf8');
        expect(compiled.includes('require(')).toBe(format === 'commonjs');

        const { code, signal, stdout, stderr } = await runToExit(appDir, main);
        expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
        const lines = stdout.trim().split('\n');
        const stop = lines.indexOf('worker-1 stops');
        const payloads = lines
          .slice(0, stop)
          .map((line) => /^supervisor: worker-1 has done (\d+) jobs$/.exec(line)?.[1]);
        expect(payloads.length).toBeGreaterThanOrEqual(3);
        expect(payloads.every((count) => count !== undefined)).toBe(true);
        const jobsDone = payloads.map(Number);
        expect(jobsDone.every((count, i) => i === 0 || count > jobsDone[i - 1])).toBe(true);
        expect(lines.filter((line) => line === 'supervisor: worker-1 timed out')).toHaveLength(1);
        expect(lines.at(-1)).toBe('supervisor: worker-1 timed out');
      }, 180_000);

      it('closes, unanswered and logged once, a connection whose frame is over the limit of a checked socket', async () => {
        const { code, signal, stdout, stderr } = await runToExit(
          appDir,
          join(dirname(main), 'frame-limit.js'),
        );
        expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
        expect(stdout).toContain('frame limit: closed=true reply=""');
        const closed = /WARN \[Heartbeat\] Closed the connection from 127\.0\.0\.1:\d+: /g;
        expect(stripVTControlCharacters(stdout).match(closed)).toHaveLength(1);
      });
    },
  );
});
