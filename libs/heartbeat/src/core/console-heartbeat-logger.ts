import type { HeartbeatLogger } from './heartbeat-listener.interface.js';

/** The core's default logger, when no logger is given (Nest's integration passes its own). */
export const consoleHeartbeatLogger: HeartbeatLogger = {
  warn: (message) => console.warn(message),
  error: (message, stack) => console.error(stack ? `${message}\n${stack}` : message),
};
