export * from './etcd-client.js';
export * from './fencing-token.js';
export * from './ha-settings.js';
export * from './leader-election.js';
export * from './leader-record.js';
export * from './leader-watch.js';
