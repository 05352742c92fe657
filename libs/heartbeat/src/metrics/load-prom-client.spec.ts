import * as promClient from 'prom-client';
import { importModule, loadPromClient } from './load-prom-client.js';

/** Node's error for a package that is not installed, as `import()` throws it. */
function notInstalled(specifier: string): Error {
  return Object.assign(
    new Error(
      `Cannot find package '${specifier}' imported from /app/node_modules/nestjs-heartbeat`,
    ),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );
}

describe('loadPromClient', () => {
  it('loads the prom-client installed, the same module the app imports', async () => {
    const loaded = await loadPromClient();
    expect(loaded.register).toBe(promClient.register);
    expect(loaded.Counter).toBe(promClient.Counter);
  });

  it('loads it through import() (this ES module source; the CommonJS build has its own, checked in test/heartbeat-metrics-package.e2e-spec.ts)', async () => {
    const namespace = (await importModule('prom-client')) as typeof promClient;
    expect(namespace.Histogram).toBe(promClient.Histogram);
  });

  it("takes a CommonJS module's default export when its names were not detected", async () => {
    const loaded = await loadPromClient(() => Promise.resolve({ default: promClient }));
    expect(loaded).toBe(promClient);
  });

  it('says how to install it when it is missing, from import() or require()', async () => {
    const required = Object.assign(new Error("Cannot find module 'prom-client'\nRequire stack:"), {
      code: 'MODULE_NOT_FOUND',
    });
    for (const missing of [notInstalled('prom-client'), required]) {
      const error = await loadPromClient(() => Promise.reject(missing)).catch((e: unknown) => e);
      expect(error).toEqual(
        new Error(
          "HeartbeatModule's metrics option needs the prom-client package: npm install prom-client",
        ),
      );
      expect((error as Error).cause).toBe(missing);
    }
  });

  it('passes on any other failure as it is: a broken install is not a missing one', async () => {
    const broken = notInstalled('/app/node_modules/prom-client/lib/registry.js');
    await expect(loadPromClient(() => Promise.reject(broken))).rejects.toBe(broken);
    const failing = new SyntaxError('Unexpected token');
    await expect(loadPromClient(() => Promise.reject(failing))).rejects.toBe(failing);
  });
});
