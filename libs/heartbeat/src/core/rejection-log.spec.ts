import type { HeartbeatLogger } from './heartbeat-listener.interface.js';
import { ManualClock } from './manual-clock.js';
import { RejectionLog } from './rejection-log.js';

const INTERVAL = 1_000;

function setUp() {
  const clock = new ManualClock(0);
  const lines: string[] = [];
  const logger: HeartbeatLogger = { warn: (line) => void lines.push(line), error: () => undefined };
  return { clock, lines, log: new RejectionLog(logger, clock, INTERVAL) };
}

describe('RejectionLog', () => {
  it('logs a pair once per interval, and its next line counts what it suppressed', () => {
    const { clock, lines, log } = setUp();
    for (let attempt = 0; attempt < 50; attempt += 1) {
      log.record('tm-1', 'vetoed: stale token', 'stale token from tm-1');
    }
    log.record('tm-1', 'vetoed: wrong credential', 'wrong credential from tm-1');
    clock.advance(INTERVAL);
    log.record('tm-1', 'vetoed: stale token', 'stale token from tm-1');

    expect(lines).toEqual([
      'stale token from tm-1',
      'wrong credential from tm-1',
      'stale token from tm-1 (49 more like it from this peer suppressed since its last line)',
    ]);
  });

  it('bounds the lines per interval however a flood varies the peers it claims, and says how many it held back', () => {
    const { clock, lines, log } = setUp();
    for (let attempt = 0; attempt < 10_000; attempt += 1) {
      log.record(`ghost-${attempt}`, 'unknown-manager', `unknown manager from ghost-${attempt}`);
    }
    expect(lines).toHaveLength(20);

    clock.advance(INTERVAL);
    log.record('tm-1', 'malformed', 'a malformed message');
    expect(lines.slice(20)).toEqual([
      'Suppressed 9980 more log line(s) of rejected heartbeat messages (at most 20 lines per ' +
        '1000 ms, one per peer and reason; the metrics count every rejection)',
      'a malformed message',
    ]);
  });

  it('moves the count of a pair it forgets to the summary, so that none goes unsaid', () => {
    const { clock, lines, log } = setUp();
    log.record('tm-1', 'vetoed', 'one');
    log.record('tm-1', 'vetoed', 'one');
    clock.advance(2 * INTERVAL);
    log.record('tm-2', 'vetoed', 'two');

    expect(lines).toEqual([
      'one',
      'Suppressed 1 more log line(s) of rejected heartbeat messages (at most 20 lines per 1000 ms, ' +
        'one per peer and reason; the metrics count every rejection)',
      'two',
    ]);
  });
});
