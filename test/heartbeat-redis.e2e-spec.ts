import { describeBrokeredHeartbeats } from './fixtures/brokered-heartbeats.js';

// Redis drops a message no one subscribes to without a word: a closed receiver is only silence.
describeBrokeredHeartbeats('redis', {
  closedReceiver: 'timeout',
  closedReceiverFailures: 'timeout',
  unreachableUntilReceiverReconnects: false,
});
