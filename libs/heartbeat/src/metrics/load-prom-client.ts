import { HEARTBEAT_MESSAGES } from '../nest/heartbeat.messages.js';
import type { PromClientModule } from './interfaces/heartbeat-metrics-options.interface.js';

/** Loads a module by name, as `import(specifier)` does. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * A real `import()` in both builds. The ES module build says it plainly; TypeScript's CommonJS
 * output would rewrite that into `require()`, so the CommonJS build (where `require` exists) makes
 * it from a string, which the compiler does not see.
 */
export const importModule: ModuleImporter = (specifier) =>
  typeof require === 'function' ? importFromCommonJs(specifier) : import(specifier);

/**
 * Where a CommonJS module cannot `import()` (code from strings disallowed; a vm without an import
 * callback, as jest's CommonJS mode), it requires: prom-client is CommonJS, either way works.
 */
async function importFromCommonJs(specifier: string): Promise<unknown> {
  try {
    const nativeImport = new Function('specifier', 'return import(specifier)') as ModuleImporter;
    return await nativeImport(specifier);
  } catch (error) {
    if (isNotFound(error, specifier)) {
      throw error;
    }
    return require(specifier) as unknown;
  }
}

/**
 * prom-client, loaded only when metrics are enabled (it is an optional peer dependency); a clear
 * error if it is not installed.
 */
export async function loadPromClient(
  load: ModuleImporter = importModule,
): Promise<PromClientModule> {
  let loaded: unknown;
  try {
    loaded = await load('prom-client');
  } catch (error) {
    if (isNotFound(error, 'prom-client')) {
      throw new Error(HEARTBEAT_MESSAGES.metricsNeedPromClient(), { cause: error });
    }
    throw error;
  }
  // CommonJS loaded by import(): its exports are named, and also the default export.
  const namespace = loaded as Partial<PromClientModule> & { default?: PromClientModule };
  return namespace.Counter ? (namespace as PromClientModule) : namespace.default!;
}

/** Node's error for a package that is not installed, from `import()` or `require()`. */
function isNotFound(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    message.includes(`'${specifier}'`)
  );
}
