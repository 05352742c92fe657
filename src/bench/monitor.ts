/**
 * The monitoring process, in one of five modes over the same simulated targets (see
 * `MonitorMode`). Every mode asks every target once right away and then `interval` after each
 * round; it counts heartbeats into a `Tally` and reports over IPC.
 */
import { MeasurementWindow } from './process-metrics.js';
import { onCommand, report, type MonitorConfig } from './protocol.js';
import { Tally } from './tally.js';

const config = JSON.parse(process.argv[2]) as MonitorConfig;
const tally = new Tally();
const window = new MeasurementWindow();
// Each mode loads only its own modules (the raw floor neither Nest nor the library).
const modes = {
  library: async () => (await import('./monitor-library.js')).startLibraryMonitor,
  plain: async () => (await import('./monitor-plain.js')).startPlainNestMonitor,
  raw: async () => (await import('./monitor-raw.js')).startRawMonitor,
  terminus: async () => (await import('./monitor-terminus.js')).startTerminusMonitor,
  detectors: async () => (await import('./monitor-detectors.js')).startDetectorsMonitor,
} as const;

const start = await modes[config.mode]();
const watch = await start(config, tally);
report({ type: 'ready' });

onCommand(async (command) => {
  switch (command.type) {
    case 'watch': {
      tally.track(command.targets.length);
      // The client's name, or (detectors mode) that and what the managers run.
      const watching = await watch(command.targets);
      report({
        type: 'watching',
        ...(typeof watching === 'string' ? { client: watching } : watching),
      });
      break;
    }
    case 'measure-start':
      tally.reset();
      window.start();
      break;
    case 'measure-stop': {
      const metrics = window.stop();
      const { rounds, errors } = tally;
      report({ type: 'metrics', metrics, rounds, errors, perSecond: tally.perSecond() });
      break;
    }
    default:
      break;
  }
});
