/**
 * `npm run bench [-- --quick] [-- --targets N]`: the library's CPU per heartbeat against the
 * plain Nest floor and the raw floor, the cost of watching it (events, metrics), its scale and ceiling, its detection accuracy, and the
 * @nestjs/terminus poll, measured in one run on this machine. Progress goes to stderr; stdout
 * gets the tables and, as its last line, one JSON object with the headline figures.
 */
import os from 'node:os';
import { searchCeiling } from './ceiling.js';
import { measureObservability } from './observability.js';
import { measureOverhead } from './overhead.js';
import { log, quick } from './plan.js';
import { render } from './report.js';
import { measureScale } from './scale.js';
import { measureTerminus } from './terminus.js';

const started = Date.now();
log(
  `${quick ? 'quick' : 'full'} run: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`,
);
const overhead = await measureOverhead();
const observability = await measureObservability();
const scale = await measureScale();
const ceiling = await searchCeiling(scale.rows);
const terminus = await measureTerminus();
const seconds = Math.round((Date.now() - started) / 1_000);
console.log(render({ overhead, observability, scale, ceiling, terminus, seconds }));
