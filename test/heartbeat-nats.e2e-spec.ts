import { describeBrokeredHeartbeats } from './fixtures/brokered-heartbeats.js';

// A closed receiver's subscriptions end with its connection: NATS answers the next request with
// "no responders", which the broker target counts as the recipient unreachable.
describeBrokeredHeartbeats('nats', {
  closedReceiver: 'unreachable',
  closedReceiverFailures: 'unreachable',
  unreachableUntilReceiverReconnects: true,
});
