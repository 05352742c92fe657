import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { childProcessEnv } from './fixtures/e2e-utils.js';

/*
 * The built package (dist/cjs and dist/esm, as `npm run build` leaves them) in an app that has not
 * installed prom-client, an optional peer: it loads and runs without it, and only enabling the
 * metrics needs it, with an error that says how to install it. Also: the CommonJS build loads
 * prom-client with a real import(), not the require() TypeScript would have written.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = join(ROOT, 'libs/heartbeat');
const CHILD = fileURLToPath(
  new URL('./fixtures/metrics-children/start-without-prom-client.cjs', import.meta.url),
);
/** What the built package needs at run time (its peers and its dependency), prom-client left out. */
const INSTALLED = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/microservices',
  'reflect-metadata',
  'rxjs',
  'zod',
];

describe('the built package without prom-client installed', () => {
  let app: string;

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'heartbeat-optional-peer-'));
    const modules = join(app, 'node_modules');
    const own = join(modules, 'nestjs-heartbeat');
    mkdirSync(own, { recursive: true });
    cpSync(join(PACKAGE, 'package.json'), join(own, 'package.json'));
    cpSync(join(PACKAGE, 'dist'), join(own, 'dist'), { recursive: true });
    for (const name of INSTALLED) {
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), join(modules, name), 'dir');
    }
    cpSync(CHILD, join(app, 'app.cjs'));
    // The premise: from the app's folder, there is no prom-client to be found.
    const finds = (() => {
      try {
        return createRequire(join(app, 'app.cjs')).resolve('prom-client');
      } catch {
        return null;
      }
    })();
    if (finds !== null) {
      throw new Error(`A prom-client is in reach of ${app}: ${finds}`);
    }
  });

  afterAll(() => {
    rmSync(app, { recursive: true, force: true });
  });

  it.each(['cjs', 'esm'])(
    'runs from the %s build without it, and says how to install it when metrics are enabled',
    async (build) => {
      const { stdout } = await run(process.execPath, [join(app, 'app.cjs'), build], {
        cwd: app,
        env: childProcessEnv(),
      });

      expect(JSON.parse(stdout)).toEqual({
        withoutMetrics: 'started',
        withMetrics:
          "HeartbeatModule's metrics option needs the prom-client package: npm install prom-client",
      });
    },
    15_000,
  );

  it('loads prom-client in the CommonJS build with a real import() (a module namespace, not exports)', async () => {
    const loader = join(PACKAGE, 'dist/cjs/metrics/load-prom-client.js');
    const script = `require(${JSON.stringify(loader)}).importModule('prom-client').then((loaded) =>
      process.stdout.write(Object.prototype.toString.call(loaded) + ' ' + typeof loaded.Counter))`;
    const { stdout } = await run(process.execPath, ['-e', script], {
      cwd: ROOT,
      env: childProcessEnv(),
    });
    expect(stdout).toBe('[object Module] function');
  });
});
