import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ENTRY_POINTS = ['./index.ts', './core/index.ts'].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);
const [ENTRY] = ENTRY_POINTS;

interface PublicExport {
  readonly name: string;
  /** A value at runtime (a class, function, constant, enum), not only a type. */
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
  const program = ts.createProgram(ENTRY_POINTS, config!.options);
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  const exports = checker.getExportsOfModule(entry).map((symbol) => {
    const declared =
      symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return {
      name: symbol.name,
      runtime: (declared.flags & ts.SymbolFlags.Value) !== 0,
      doc: ts.displayPartsToString(declared.getDocumentationComment(checker)).trim(),
      declaredIn: declared.declarations?.[0]?.getSourceFile().fileName ?? '?',
    };
  });
  return { exports, program };
}

describe('the public API (index.ts)', () => {
  const { exports, program } = readExports();

  it('names every export: no `export *`, which would make whatever a module exports public', () => {
    const wildcards = ENTRY_POINTS.flatMap((file) =>
      program
        .getSourceFile(file)!
        .statements.filter(
          (statement) => ts.isExportDeclaration(statement) && !statement.exportClause,
        )
        .map((statement) => statement.getText()),
    );
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
    ];
    expect(internals.filter((name) => names.has(name))).toEqual([]);
  });
});
