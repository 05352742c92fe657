export * from './env.js';
export * from './protocol.js';
