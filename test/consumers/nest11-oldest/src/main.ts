// The test copies the README's quick start to src/quick-start.ts, unchanged.
import { runQuickStart } from './quick-start';

runQuickStart().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
