/**
 * The demo's command line (src/demo.ts): `[--duration <seconds>] [--ha]` and `--help`, nothing else.
 * Anything else is an error rather than ignored, and so is `npm start --duration 5` without the
 * `--`, unless npm's leftovers say unambiguously what was meant (see `parseDemoArgs`).
 */

export const DEMO_USAGE =
  'usage: npm start -- [--duration <seconds>] [--ha]   (or: node dist/src/demo.js [--duration <seconds>] [--ha])';

/** Longest `--duration`: setTimeout fires at once for delays above 2^31 - 1 ms. */
export const MAX_DURATION_SECONDS = Math.floor((2 ** 31 - 1) / 1_000);

export interface DemoArgs {
  /** When the demo stops by itself, in ms after its start; undefined: only on Ctrl-C. */
  readonly durationMs?: number;
  /** `--help` / `-h`: print the usage and exit. */
  readonly help: boolean;
  /** `--ha`: the high-availability demo (etcd, two ResourceManagers; see demo-ha.ts). */
  readonly ha: boolean;
  /** Something worth telling the user although the arguments were understood. */
  readonly notes: readonly string[];
}

/** A command line the demo does not understand; the demo prints the message and exits with code 2. */
export class DemoUsageError extends Error {
  override name = 'DemoUsageError';
}

/** Why `npm start --duration <seconds>` did not reach the demo, and what to run instead. */
const forgottenDashes = (seconds = '5') =>
  `npm keeps options before a "--" for itself, so \`npm start --duration ${seconds}\` does not pass ` +
  `--duration to the demo: run \`npm start -- --duration ${seconds}\``;

/**
 * Parses the demo's arguments (`process.argv.slice(2)`). `env` is consulted for what npm makes of
 * a forgotten `--`: `npm start --duration 5` runs the demo with the argument `5` and
 * `npm_config_duration=true`, `npm start --duration=5` with no argument and `npm_config_duration=5`.
 * Both are honoured, with a note; what cannot be read as a duration is an error saying so. (Also
 * `npm_lifecycle_event`, to word a hint for `npm start`.)
 */
export function parseDemoArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): DemoArgs {
  let duration: string | undefined;
  let help = false;
  let ha = false;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
    } else if (arg === '--ha') {
      ha = true;
    } else if (arg === '--duration' || arg.startsWith('--duration=')) {
      if (duration !== undefined) {
        throw new DemoUsageError('--duration is given twice');
      }
      if (arg === '--duration') {
        const value = argv[i + 1];
        if (value === undefined || value.startsWith('--')) {
          throw new DemoUsageError('--duration needs a number of seconds');
        }
        duration = value;
        i++;
      } else {
        duration = arg.slice('--duration='.length);
      }
    } else if (arg.startsWith('-') && !isNumber(arg)) {
      throw new DemoUsageError(`unknown option ${JSON.stringify(arg)}`);
    } else {
      positionals.push(arg);
    }
  }
  if (help) {
    return { help, ha, notes: [] };
  }

  const fromNpm = env.npm_config_duration;
  const notes: string[] = [];
  if (!ha && env.npm_config_ha === 'true') {
    // `npm start --ha`: npm took --ha as a flag of its own.
    ha = true;
    notes.push("took --ha from npm's own options (npm_config_ha); run `npm start -- --ha`");
  }
  if (duration === undefined && fromNpm !== undefined) {
    // `npm start --duration 5`: npm took --duration as a flag of its own and passed the 5 on.
    if (fromNpm === 'true' && positionals.length === 1 && isNumber(positionals[0])) {
      duration = positionals.pop();
    } else if (fromNpm === 'true') {
      const got = positionals.length > 0 ? `, got ${positionals.join(' ')}` : '';
      throw new DemoUsageError(`--duration needs a number of seconds${got}; ${forgottenDashes()}`);
    } else {
      // `npm start --duration=5`
      duration = fromNpm;
    }
    notes.push(
      `took --duration ${duration} from npm's own options (npm_config_duration); ${forgottenDashes(duration)}`,
    );
  }
  if (positionals.length > 0) {
    throw new DemoUsageError(
      `unexpected argument${positionals.length > 1 ? 's' : ''} ${positionals.map((p) => JSON.stringify(p)).join(' ')}` +
        (positionals.length === 1 && isNumber(positionals[0])
          ? `; for a duration: ${env.npm_lifecycle_event === 'start' ? 'npm start -- ' : ''}--duration ${positionals[0]}`
          : ''),
    );
  }
  return { durationMs: duration === undefined ? undefined : toMs(duration), help, ha, notes };
}

function isNumber(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text));
}

function toMs(duration: string): number {
  const seconds = Number(duration);
  if (!isNumber(duration) || seconds <= 0 || seconds > MAX_DURATION_SECONDS) {
    throw new DemoUsageError(
      `--duration needs a number of seconds from more than 0 to ${MAX_DURATION_SECONDS}, got ${JSON.stringify(duration)}`,
    );
  }
  return Math.round(seconds * 1_000);
}
