import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const pathOf = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

let exportNames: string[] | undefined;

/**
 * Every name the package exports, types included, as the compiler sees its entry point (with the
 * library's compiler options): its named re-exports. Read once.
 */
function libraryExports(): string[] {
  exportNames ??= readLibraryExports();
  return exportNames;
}

function readLibraryExports(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    pathOf('libs/heartbeat/tsconfig.lib.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  const entry = pathOf('libs/heartbeat/src/index.ts');
  const program = ts.createProgram([entry], config!.options);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map((symbol) => symbol.name);
}

/** The rows of the README's "Everything exported" section: `| \`name\` | description |`. */
function exportedSection(readme: string): {
  rows: { name: string; what: string }[];
  stray: string[];
} {
  const lines = readme.split('\n');
  const start = lines.indexOf('### Everything exported');
  const length = lines.slice(start + 1).findIndex((line) => /^#{1,3} /.test(line));
  const section = lines.slice(start + 1, length === -1 ? undefined : start + 1 + length);
  const rows: { name: string; what: string }[] = [];
  const stray: string[] = [];
  for (const line of section.filter((text) => text.startsWith('|'))) {
    const row = /^\| `([A-Za-z_$][\w$]*)` \| (.*\S) \|$/.exec(line);
    if (row) {
      rows.push({ name: row[1], what: row[2] });
    } else if (!/^\| export \| what it is for \|$|^\|---\|---\|$/.test(line)) {
      stray.push(line); // a row that does not name exactly one export with a description
    }
  }
  return { rows: start === -1 ? [] : rows, stray };
}

describe('README', () => {
  const readme = read('README.md');

  it('shows src/examples/quick-start.ts verbatim, so the documented example is the tested one', () => {
    const example = read('src/examples/quick-start.ts');
    expect(readme).toContain('```ts\n' + example + '```');
  });

  it('shows src/examples/loss-alerts.ts verbatim, the event stream in use', () => {
    const example = read('src/examples/loss-alerts.ts');
    expect(readme).toContain('```ts\n' + example + '```');
  });

  it('shows src/examples/nats-heartbeats.ts verbatim, the broker target in use', () => {
    const example = read('src/examples/nats-heartbeats.ts');
    expect(readme).toContain('```ts\n' + example + '```');
  });

  it('opens with the two set-up commands: the main job and the test suite', () => {
    const commands = readme.split('\n').slice(0, 6).join('\n');
    expect(commands).toContain('npm ci && npm start');
    expect(commands).toContain('npm ci && npm test');
  });

  it('documents every wire pattern the transport registers', async () => {
    const { HEARTBEAT_RECEIVE_PATTERN, HEARTBEAT_REQUEST_PATTERN } =
      await import('nestjs-heartbeat');
    for (const pattern of [HEARTBEAT_REQUEST_PATTERN, HEARTBEAT_RECEIVE_PATTERN]) {
      expect(readme).toContain(`| \`${pattern}\` |`);
    }
  });

  describe('"Everything exported"', () => {
    const { rows, stray } = exportedSection(readme);
    const listed = rows.map((row) => row.name);

    it('is a list of exports, one a row, each with a description', () => {
      expect(rows.length).toBeGreaterThan(0);
      expect(stray).toEqual([]);
      expect(listed.filter((name, index) => listed.indexOf(name) !== index)).toEqual([]);
    });

    it('lists every export of the library, types included', () => {
      const unlisted = libraryExports().filter((name) => !listed.includes(name));
      expect(unlisted).toEqual([]);
    });

    it('lists every runtime export of the library', async () => {
      const library = await import('nestjs-heartbeat');
      expect(Object.keys(library).filter((name) => !listed.includes(name))).toEqual([]);
    });

    it('lists nothing the library does not export', () => {
      const exported = libraryExports();
      expect(listed.filter((name) => !exported.includes(name))).toEqual([]);
    });
  });
});
