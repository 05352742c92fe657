import { readFileSync } from 'node:fs';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('README', () => {
  const readme = read('README.md');

  it('shows src/examples/quick-start.ts verbatim, so the documented example is the tested one', () => {
    const example = read('src/examples/quick-start.ts');
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

  it('names every runtime export of the library', async () => {
    const library = await import('nestjs-heartbeat');
    const undocumented = Object.keys(library).filter((name) => !readme.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});
