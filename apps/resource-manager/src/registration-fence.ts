import { randomUUID } from 'node:crypto';
import { sameSecret, type ResourceManagerHeartbeat } from '#cluster';
import type { ResourceManagerLeadership } from './leadership/resource-manager-leadership.service.js';

/** A registration the ResourceManager turns down; the peer gets the message as its error reply. */
export class RegistrationRefused extends Error {
  override readonly name = 'RegistrationRefused';
}

/** The secrets of one registration, as `RegistrationFence` issues and checks them. */
export interface RegistrationCredentials {
  /** Issued at registration: only the peer that registered knows it, so others cannot speak for it. */
  readonly credential: string;
  /**
   * The credential presented to replace the registration before this one, if any. It stays good
   * for this registration: if our answer (with the new credential) was lost, the peer retries with
   * the old one and must not be locked out until this registration times out.
   */
  readonly replacedWith: string | null;
}

/** What a live registration shows of itself when a request without its credential tries to replace it. */
export interface LiveRegistration extends RegistrationCredentials {
  readonly host: string;
  readonly port: number;
}

/**
 * The rules every kind of registration with the ResourceManager follows (TaskManagers, JobMasters):
 * only a leader registers; a live registration is replaced only by a request presenting its
 * credential; a message in a peer's name must carry this leadership's fencing token and that
 * registration's credential; and every message to a peer proves the same back.
 */
export class RegistrationFence {
  constructor(
    private readonly leadership: Pick<
      ResourceManagerLeadership,
      'current' | 'isLeader' | 'requireLeadership' | 'leaderUrl'
    >,
    /** How messages name the peers: `TaskManager`, `JobMaster`. */
    private readonly peer: string,
  ) {}

  /** Why no registration is taken now: this ResourceManager does not lead (naming the leader if known). */
  notLeading(): string | undefined {
    if (this.leadership.isLeader()) {
      return undefined;
    }
    const leaderUrl = this.leadership.leaderUrl();
    return `this ResourceManager does not lead${leaderUrl ? ` (the leader is ${leaderUrl})` : ''}`;
  }

  /**
   * Why a registration of `id` may not replace `live`, its registration now, or undefined: only a
   * request presenting its credential may. Anyone else (a restarted peer too) waits until the old
   * one is dropped for its silence.
   */
  replacementRefusal(
    id: string,
    live: LiveRegistration | undefined,
    presented: string | undefined,
  ): string | undefined {
    if (!live || this.holdsCredential(live, presented)) {
      return undefined;
    }
    return (
      `${id} is registered from ${live.host}:${live.port} and the request lacks ` +
      `that registration's credential; retry once the old one is dropped (heartbeat timeout)`
    );
  }

  /** The credentials of a new registration, which replaces a live one (`replacing`) presenting `presented`. */
  issue(replacing: boolean, presented: string | undefined): RegistrationCredentials {
    return {
      credential: randomUUID(),
      replacedWith: replacing ? (presented ?? null) : null,
    };
  }

  /** Why a message in the name of `id` is refused, or undefined if it comes from `registration`. */
  refusal(
    id: string,
    registration: RegistrationCredentials | undefined,
    fencingToken: string,
    credential: string,
  ): string | undefined {
    if (!registration) {
      return `${id} is not registered`;
    }
    const { leader, fencingToken: ours } = this.leadership.current;
    if (!leader || ours === null) {
      return 'this ResourceManager does not lead';
    }
    if (fencingToken !== ours) {
      return `fencing token ${fencingToken} is not this leadership's (${ours})`;
    }
    if (!sameSecret(credential, registration.credential)) {
      return `wrong credential for ${id} (not the ${this.peer} that registered)`;
    }
    return undefined;
  }

  /**
   * What every message to a registered peer carries: our leadership's fencing token and its
   * credential. Throws a `NotLeaderError` when this ResourceManager does not lead (with HA, its
   * lease is checked here): so no message goes out from a leader whose lease may have lapsed.
   */
  proofFor(registration: RegistrationCredentials): ResourceManagerHeartbeat {
    return {
      fencingToken: this.leadership.requireLeadership(),
      credential: registration.credential,
    };
  }

  private holdsCredential(live: RegistrationCredentials, presented: string | undefined): boolean {
    const given = presented ?? '';
    return (
      sameSecret(given, live.credential) ||
      (live.replacedWith !== null && sameSecret(given, live.replacedWith))
    );
  }
}

/** How long a released peer had been silent: "1200 ms after its last heartbeat", or since it registered. */
export function describeSilence(lastHeartbeat: number, registeredAt: number, now: number): string {
  return lastHeartbeat > 0
    ? `${now - lastHeartbeat} ms after its last heartbeat`
    : `no heartbeat in the ${now - registeredAt} ms since it registered`;
}
