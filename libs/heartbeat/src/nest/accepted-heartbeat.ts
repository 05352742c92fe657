/**
 * Only `acceptHeartbeat` makes objects that carry it. Registered (`Symbol.for`), so that a verdict
 * made by one copy of the library (its ES module build, say) is recognised by another (CommonJS).
 */
const ACCEPTED: unique symbol = Symbol.for('nestjs-heartbeat: accepted heartbeat');

/**
 * The verdict of an `@OnIncomingHeartbeat` handler that accepts a heartbeat and replaces its
 * payload, e.g. by its parsed, validated form. Made only by {@link acceptHeartbeat}: a plain
 * `{ payload }` is not one, so that a protocol whose own messages have a `payload` field cannot be
 * taken for it by mistake.
 */
export interface AcceptedHeartbeat<P = unknown> {
  readonly [ACCEPTED]: true;
  /** The payload the later handlers, the manager and `@OnHeartbeatPayload` get; `null` for none. */
  readonly payload: P;
}

/**
 * Accepts the heartbeat an `@OnIncomingHeartbeat` handler vets, with `payload` in place of the one
 * it arrived with (`null`: no payload): `return acceptHeartbeat(parsed);`. Parse once, there.
 */
export function acceptHeartbeat<P>(payload: P): AcceptedHeartbeat<P> {
  return Object.freeze({ [ACCEPTED]: true as const, payload });
}

/** Whether a handler's verdict was made by `acceptHeartbeat`. */
export function isAcceptedHeartbeat(verdict: unknown): verdict is AcceptedHeartbeat {
  return (
    typeof verdict === 'object' &&
    verdict !== null &&
    (verdict as Partial<AcceptedHeartbeat>)[ACCEPTED] === true
  );
}
