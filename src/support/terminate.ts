import type { ChildProcess } from 'node:child_process';

/**
 * Ends a child process the tools started: SIGCONT (should it be frozen), SIGTERM, then SIGKILL if
 * it has not exited after `graceMs`. Resolves once it has exited (at once if it had already).
 */
export function terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGCONT');
    child.kill('SIGTERM');
  });
}
