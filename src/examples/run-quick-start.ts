// `npm run example`: the README's quick start, run on its own.
import { runQuickStart } from './quick-start.js';

await runQuickStart();
