import type { AnswerAdmissionOutcome } from '../core/heartbeat-receiver-manager.js';
import { isAcceptedHeartbeat } from './accepted-heartbeat.js';
import type { BoundHandler } from './bound-heartbeat-listener.js';
import type { IncomingHeartbeat } from './interfaces/heartbeat-handler.interface.js';

type VettingHandler = (heartbeat: IncomingHeartbeat) => unknown;

/** The outcome of vetting: the payload to hand to the manager, or why the heartbeat is refused. */
export type VettingOutcome = AnswerAdmissionOutcome;

/**
 * The `@OnIncomingHeartbeat` handlers of one manager, run on every heartbeat for it before the
 * manager sees it: each RPC the ingress takes, and each answer a sender's request brings back in
 * its reply (see `IncomingHeartbeatVerdict`). Unlike the listener's
 * callbacks, whose errors are only logged, a handler that throws here rejects the heartbeat: that
 * is what it is for.
 */
export class IncomingHeartbeatVetter {
  private readonly handlers: BoundHandler<VettingHandler>[] = [];

  constructor(readonly managerName: string) {}

  add(handler: BoundHandler<VettingHandler>): void {
    this.handlers.push(handler);
  }

  /** Whether any handler vets this manager's heartbeats (without one, every heartbeat passes). */
  get isEmpty(): boolean {
    return this.handlers.length === 0;
  }

  /**
   * Runs the handlers in the order they were added (the explorer's: see `OnIncomingHeartbeat`),
   * each on the heartbeat as the one before left it; the first that rejects stops the others.
   * Accepted: the payload, replaced (by `acceptHeartbeat`) or not.
   */
  async vet(heartbeat: IncomingHeartbeat): Promise<VettingOutcome> {
    let current = heartbeat;
    for (const handler of this.handlers) {
      let verdict: unknown;
      try {
        verdict = await handler.call(current);
      } catch (error) {
        return { accepted: false, reason: error instanceof Error ? error.message : String(error) };
      }
      if (verdict === false) {
        return { accepted: false, reason: `rejected by ${handler.where}` };
      }
      if (isAcceptedHeartbeat(verdict)) {
        current = { ...current, payload: verdict.payload ?? null };
      } else if (verdict !== undefined && verdict !== true) {
        // Most likely the parsed payload itself, or a plain { payload }: refuse rather than guess.
        return {
          accepted: false,
          reason: `${handler.where} returned neither true, false, undefined nor acceptHeartbeat(payload)`,
        };
      }
    }
    return { accepted: true, payload: current.payload };
  }
}
