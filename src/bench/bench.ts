/**
 * `npm run bench [-- --quick] [-- --targets N]`: the library's CPU per heartbeat against the
 * plain Nest floor and the raw floor, the cost of watching it (events, metrics), its scale and ceiling, its detection accuracy, the
 * @nestjs/terminus poll, the fixed timeout against phi-accrual (Akka's defaults and a fast variant) on the same kills (clean and under a
 * network delay), and the cost of a heartbeat over each transport (lean TCP, ClientTCP,
 * NATS, Redis) and the HA takeover time, measured in one run on this machine. `--section
 * transports`, `--section takeover` or `--section detectors` runs that one alone. Progress goes to stderr; stdout gets the tables and, as its last line, one JSON object
 * with the headline figures.
 */
import os from 'node:os';
import { searchCeiling } from './ceiling.js';
import { measureDetectors } from './detectors.js';
import { measureObservability } from './observability.js';
import { measureOverhead } from './overhead.js';
import { log, quick, section } from './plan.js';
import { render, renderSection, SECTION_REPORTS } from './report.js';
import { measureScale } from './scale.js';
import { measureTakeover } from './takeover.js';
import { measureTerminus } from './terminus.js';
import { measureTransports } from './transports.js';

const started = Date.now();
log(
  `${quick ? 'quick' : 'full'} run${section === 'all' ? '' : ` of section ${section}`}: ` +
    `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`,
);
const seconds = () => Math.round((Date.now() - started) / 1_000);
if (section === 'transports') {
  console.log(renderSection(SECTION_REPORTS.transports, await measureTransports(), seconds()));
} else if (section === 'takeover') {
  console.log(renderSection(SECTION_REPORTS.takeover, await measureTakeover(), seconds()));
} else if (section === 'detectors') {
  console.log(renderSection(SECTION_REPORTS.detectors, await measureDetectors(), seconds()));
} else {
  const overhead = await measureOverhead();
  const observability = await measureObservability();
  const scale = await measureScale();
  const ceiling = await searchCeiling(scale.rows);
  const terminus = await measureTerminus();
  const detectors = await measureDetectors();
  const transports = await measureTransports();
  const takeover = await measureTakeover();
  console.log(
    render({
      overhead,
      observability,
      scale,
      ceiling,
      terminus,
      transports,
      takeover,
      detectors,
      seconds: seconds(),
    }),
  );
}
