import { addressedHeartbeatPattern, HEARTBEAT_PATTERNS } from './addressed-patterns.js';
import { HEARTBEAT_RECEIVE_PATTERN, HEARTBEAT_REQUEST_PATTERN } from './heartbeat-wire.js';

/** A NATS subject token: no separator, no wildcard, no whitespace (and so no Redis glob either). */
const ONE_TOKEN = /^[A-Za-z0-9_%-]+$/;

describe('addressedHeartbeatPattern', () => {
  it('appends the recipient id to the plain pattern, as it is when it is plain', () => {
    expect(addressedHeartbeatPattern(HEARTBEAT_REQUEST_PATTERN, 'tm-1')).toBe(
      'heartbeat.request.tm-1',
    );
    expect(addressedHeartbeatPattern(HEARTBEAT_RECEIVE_PATTERN, 'resource_manager-7')).toBe(
      'heartbeat.receive.resource_manager-7',
    );
    expect(HEARTBEAT_PATTERNS).toEqual(['heartbeat.request', 'heartbeat.receive']);
  });

  it.each([
    ['tm.1', 'tm%2E1'],
    ['a b', 'a%20b'],
    ['*', '%2A'],
    ['>', '%3E'],
    ['tm:1', 'tm%3A1'],
    ['[x]?', '%5Bx%5D%3F'],
    ['100%', '100%25'],
    ['ü', '%C3%BC'],
    ['🚀', '%F0%9F%9A%80'],
  ])('percent-encodes %j as one NATS token: %s', (id, encoded) => {
    const pattern = addressedHeartbeatPattern(HEARTBEAT_REQUEST_PATTERN, id);
    expect(pattern).toBe(`heartbeat.request.${encoded}`);
    expect(pattern.slice('heartbeat.request.'.length)).toMatch(ONE_TOKEN);
  });

  it('gives distinct ids distinct patterns, also ids that differ only in what is encoded', () => {
    const ids = ['tm.1', 'tm%2E1', 'tm-1', 'tm_1', 'TM-1', 'tm 1', 'tm:1'];
    const patterns = ids.map((id) => addressedHeartbeatPattern(HEARTBEAT_REQUEST_PATTERN, id));
    expect(new Set(patterns).size).toBe(ids.length);
  });
});
