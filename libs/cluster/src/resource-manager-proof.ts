import { sameSecret } from './app-support.js';
import { compareFencingTokens } from './ha/fencing-token.js';
import type { RegistrationResponse, ResourceManagerHeartbeat } from './protocol.js';

/**
 * Why a message claiming to be from the ResourceManager that `registration` is with is refused,
 * or undefined if it is: it must carry that leadership's fencing token (an older one is a deposed
 * leader's, a newer one a leader not registered with yet) and the registration's credential
 * (anyone may register and learn the fencing token; only it knows the credential). `self` names
 * the one registered (`TaskManager`, `JobMaster`) in the reasons.
 */
export function resourceManagerProofRefusal(
  registration: RegistrationResponse | null,
  { fencingToken, credential }: ResourceManagerHeartbeat,
  self: string,
): string | undefined {
  if (!registration) {
    return `this ${self} is not registered with any ResourceManager`;
  }
  const ours = registration.fencingToken;
  const order = compareFencingTokens(fencingToken, ours);
  if (order < 0) {
    return `stale fencing token ${fencingToken}: from a deposed leader (this ${self} is registered with leadership ${ours})`;
  }
  if (order > 0) {
    return `fencing token ${fencingToken} is newer than this ${self}'s registration (${ours}): not the ResourceManager it is registered with`;
  }
  if (!sameSecret(credential, registration.credential)) {
    return `wrong credential (not the ResourceManager this ${self} is registered with)`;
  }
  return undefined;
}
