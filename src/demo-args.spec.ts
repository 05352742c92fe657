import { DemoUsageError, MAX_DURATION_SECONDS, parseDemoArgs } from './demo-args.js';

const usageError = (argv: string[], env: Record<string, string> = {}) => {
  try {
    parseDemoArgs(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(DemoUsageError);
    return (error as Error).message;
  }
  throw new Error(`parseDemoArgs(${JSON.stringify(argv)}) did not throw`);
};

describe("the demo's arguments (npm start)", () => {
  it('runs until Ctrl-C without arguments, and stops after --duration seconds with one', () => {
    expect(parseDemoArgs([])).toEqual({ durationMs: undefined, help: false, ha: false, notes: [] });
    expect(parseDemoArgs(['--duration', '5']).durationMs).toBe(5_000);
    expect(parseDemoArgs(['--duration=2.5']).durationMs).toBe(2_500);
    expect(parseDemoArgs([`--duration=${MAX_DURATION_SECONDS}`]).durationMs).toBe(
      MAX_DURATION_SECONDS * 1_000,
    );
    expect(parseDemoArgs(['--help']).help).toBe(true);
    expect(parseDemoArgs(['--duration', '5', '-h']).help).toBe(true);
  });

  it('refuses unknown options and stray arguments instead of ignoring them', () => {
    expect(usageError(['--durration', '5'])).toBe('unknown option "--durration"');
    expect(usageError(['-d', '5'])).toBe('unknown option "-d"');
    expect(usageError(['5'])).toBe('unexpected argument "5"; for a duration: --duration 5');
    // `npm start --durration 5`: npm keeps --durration, the demo gets the 5.
    expect(usageError(['5'], { npm_lifecycle_event: 'start', npm_config_durration: 'true' })).toBe(
      'unexpected argument "5"; for a duration: npm start -- --duration 5',
    );
    expect(usageError(['--duration', '5', 'extra', 'more'])).toBe(
      'unexpected arguments "extra" "more"',
    );
    expect(usageError(['--duration', '5', '--duration', '6'])).toBe('--duration is given twice');
  });

  it('refuses a missing, malformed, non-positive or too long duration', () => {
    expect(usageError(['--duration'])).toBe('--duration needs a number of seconds');
    expect(usageError(['--duration', '--help'])).toBe('--duration needs a number of seconds');
    const range = `--duration needs a number of seconds from more than 0 to ${MAX_DURATION_SECONDS}`;
    expect(usageError(['--duration', 'abc'])).toBe(`${range}, got "abc"`);
    expect(usageError(['--duration', '5s'])).toBe(`${range}, got "5s"`);
    expect(usageError(['--duration='])).toBe(`${range}, got ""`);
    expect(usageError(['--duration', '0'])).toBe(`${range}, got "0"`);
    expect(usageError(['--duration', '-5'])).toBe(`${range}, got "-5"`);
    expect(usageError(['--duration', 'Infinity'])).toBe(`${range}, got "Infinity"`);
    // setTimeout would fire at once for this one (above 2^31 - 1 ms).
    expect(usageError(['--duration', String(MAX_DURATION_SECONDS + 1)])).toBe(
      `${range}, got "${MAX_DURATION_SECONDS + 1}"`,
    );
  });

  describe('a forgotten "--" (npm keeps the options before it for itself)', () => {
    it('honours `npm start --duration 5`: the argument 5 and npm_config_duration=true', () => {
      const args = parseDemoArgs(['5'], { npm_config_duration: 'true' });
      expect(args.durationMs).toBe(5_000);
      expect(args.notes).toEqual([expect.stringContaining('took --duration 5 from npm')]);
      expect(args.notes[0]).toContain('npm start -- --duration 5');
    });

    it('honours `npm start --duration=5`: no argument and npm_config_duration=5', () => {
      const args = parseDemoArgs([], { npm_config_duration: '7' });
      expect(args.durationMs).toBe(7_000);
      expect(args.notes[0]).toContain('run `npm start -- --duration 7`');
    });

    it('explains `npm start --duration` and `npm start --duration abc`', () => {
      expect(usageError([], { npm_config_duration: 'true' })).toMatch(
        /^--duration needs a number of seconds; .*run `npm start -- --duration 5`$/,
      );
      expect(usageError(['abc'], { npm_config_duration: 'true' })).toMatch(
        /^--duration needs a number of seconds, got abc; .*npm start -- --duration 5/,
      );
      expect(usageError([], { npm_config_duration: 'abc' })).toMatch(/got "abc"$/);
    });

    it('lets the arguments the demo got win over npm_config_duration', () => {
      const args = parseDemoArgs(['--duration', '3'], { npm_config_duration: '9' });
      expect(args).toEqual({ durationMs: 3_000, help: false, ha: false, notes: [] });
    });
  });
});
