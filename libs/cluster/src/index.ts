export * from './env.js';
export * from './protocol.js';
export * from './job-master-protocol.js';
export * from './app-support.js';
export * from './message-shape.js';
export * from './tls.js';
export * from './ha/index.js';
