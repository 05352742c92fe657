import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ENTRY = fileURLToPath(new URL('./index.ts', import.meta.url));

interface PublicExport {
  readonly name: string;
  /** A value at runtime (a class, function, constant, enum) exported as one, not only a type. */
  readonly runtime: boolean;
  /** The doc comment of its declaration, without tags. */
  readonly doc: string;
  readonly declaredIn: string;
}

/** The package's exports as the compiler sees them (with the library's own compiler options). */
function readExports(): { exports: PublicExport[]; program: ts.Program } {
  const config = ts.getParsedCommandLineOfConfigFile(
    fileURLToPath(new URL('../tsconfig.lib.json', import.meta.url)),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  const program = ts.createProgram([ENTRY], config!.options);
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const exports = checker.getExportsOfModule(entry).map((symbol) => {
    const declared =
      symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    // `export type { SomeClass }` makes a class a type only: nothing at runtime.
    const typeOnly = (symbol.declarations ?? []).some(
      (declaration) =>
        ts.isExportSpecifier(declaration) &&
        (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly),
    );
    return {
      name: symbol.name,
      runtime: (declared.flags & ts.SymbolFlags.Value) !== 0 && !typeOnly,
      doc: ts.displayPartsToString(declared.getDocumentationComment(checker)).trim(),
      declaredIn: declared.declarations?.[0]?.getSourceFile().fileName ?? '?',
    };
  });
  return { exports, program };
}

describe('the public API (index.ts)', () => {
  const { exports, program } = readExports();
  /** The declarations the package publishes, by path under dist/esm (emitted once, when first asked). */
  let published: { declarations: Map<string, string>; diagnostics: readonly ts.Diagnostic[] };
  const emitDeclarations = () => {
    if (!published) {
      const declarations = new Map<string, string>();
      const { diagnostics } = program.emit(
        undefined,
        (fileName, text) => declarations.set(fileName.replace(/^.*\/dist\/esm\//, ''), text),
        undefined,
        true,
      );
      published = { declarations, diagnostics };
    }
    return published;
  };

  it('names every export: no `export *`, which would make whatever a module exports public', () => {
    const wildcards = program
      .getSourceFile(ENTRY)!
      .statements.filter(
        (statement) => ts.isExportDeclaration(statement) && !statement.exportClause,
      )
      .map((statement) => statement.getText());
    expect(wildcards).toEqual([]);
  });

  it('documents every export with a doc comment at its declaration', () => {
    const undocumented = exports
      .filter((entry) => entry.doc.length === 0)
      .map(({ name, declaredIn }) => `${name} (${declaredIn.replace(/^.*\/src\//, '')})`);
    expect(undocumented).toEqual([]);
  });

  it('exports at runtime exactly the values the compiler sees', async () => {
    const runtime = Object.keys(await import('./index.js')).toSorted();
    const values = exports
      .filter((entry) => entry.runtime)
      .map((entry) => entry.name)
      .toSorted();
    expect(runtime).toEqual(values);
  });

  it('exports the managers as types only: they are made by HeartbeatServices, the one door', () => {
    const managers = exports.filter((entry) =>
      ['HeartbeatSenderManager', 'HeartbeatReceiverManager'].includes(entry.name),
    );
    expect(managers.map(({ name, runtime }) => ({ name, runtime }))).toEqual([
      { name: 'HeartbeatReceiverManager', runtime: false },
      { name: 'HeartbeatSenderManager', runtime: false },
    ]);
  });

  it('leaves the @internal members out of the declarations it publishes (stripInternal)', () => {
    const { declarations, diagnostics } = emitDeclarations();
    expect(diagnostics).toEqual([]);
    const registry = declarations.get('nest/heartbeat.registry.d.ts')!;
    expect(registry).toContain('getManager<');
    expect(registry).not.toMatch(
      /findEntry|HeartbeatManagerEntry|BoundHeartbeatListener|constructor/,
    );
    const receiver = declarations.get('core/heartbeat-receiver-manager.d.ts')!;
    expect(receiver).toContain('monitorTarget(');
    expect(receiver).not.toMatch(
      /constructor|HeartbeatManagerOptions|HeartbeatMonitor|sendHeartbeat|onTargetTimeout/,
    );
    const sender = declarations.get('core/heartbeat-sender-manager.d.ts')!;
    expect(sender).toContain('start(): void;');
    expect(sender).not.toContain('onTargetTimeout');
    expect(declarations.get('nest/heartbeat-target.factory.d.ts')).not.toContain('constructor');
    expect(declarations.get('health/heartbeat-health.indicator.d.ts')).not.toContain('constructor');
  });

  it('publishes declarations that name neither optional peer: they compile without prom-client or terminus', () => {
    const { declarations } = emitDeclarations();
    // An import or export statement, or an import type, of either (not a mention in a comment).
    const optionalPeer =
      /^(?:import|export)\b[^\n]*['"](?:prom-client|@nestjs\/terminus)['"]|\bimport\(\s*['"](?:prom-client|@nestjs\/terminus)['"]\s*\)/m;
    const naming = [...declarations].filter(([, text]) => optionalPeer.test(text));
    expect(naming.map(([path]) => path)).toEqual([]);
    expect(declarations.has('metrics/heartbeat-metrics.d.ts')).toBe(true);
  });

  it('keeps the internals internal', () => {
    const names = new Set(exports.map((entry) => entry.name));
    const internals = [
      'HeartbeatMonitor',
      'HeartbeatMonitorState',
      'HeartbeatMonitorContext',
      'StallGuard',
      'REQUESTS_PER_SLICE',
      'consoleHeartbeatLogger',
      'HEARTBEAT_CONFIGURATION_KEYS',
      'DEFAULT_HEARTBEAT_CONFIGURATION',
      'HEARTBEAT_MODULE_OPTIONS',
      'HeartbeatExplorer',
      'BoundHeartbeatListener',
      'parseHeartbeatMessage',
      'isAcceptedHeartbeat',
      'isResolvedHeartbeatConfiguration',
      'renameProblems',
      'IncomingHeartbeatVetter',
      'HeartbeatManagerEntry',
      'HeartbeatManagerOptions',
      'HEARTBEAT_METRICS',
      'heartbeatMetricsProvider',
      'HeartbeatMetricsShutdown',
      'loadPromClient',
      'checkHeartbeatMetricsOptions',
      'AddressedPatternRegistrar',
      'HEARTBEAT_OWN_IDS',
      'HEARTBEAT_PATTERNS',
      'BrokerClients',
      'RedisHeartbeatClient',
      'HeartbeatBrokerError',
      'classifyBrokerFailure',
      'checkBrokerClientOptions',
    ];
    expect(internals.filter((name) => names.has(name))).toEqual([]);
  });
});
