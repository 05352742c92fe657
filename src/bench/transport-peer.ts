/**
 * A process of the transports section, driven over IPC like the other bench children: the sender
 * (`role: 'sender'`) or the receivers (`role: 'receivers'`), over one transport (see
 * `TransportPeerConfig`). The receivers report `listening` with their addresses; the sender
 * watches them on `watch`. Each measures its own CPU over a window.
 */
import { MeasurementWindow } from './process-metrics.js';
import { onCommand, report } from './protocol.js';
import { Tally } from './tally.js';
import type { TransportPeerConfig } from './transport-config.js';
import { startReceivers } from './transport-receivers.js';
import { startSender } from './transport-sender.js';

const config = JSON.parse(process.argv[2]) as TransportPeerConfig;
const tally = new Tally();
const window = new MeasurementWindow();

const watch = config.role === 'sender' ? await startSender(config, tally) : undefined;
if (watch) {
  report({ type: 'ready' });
} else {
  const { targets } = await startReceivers(config);
  report({ type: 'listening', targets });
}

onCommand((command) => {
  switch (command.type) {
    case 'watch':
      tally.track(command.targets.length);
      report({ type: 'watching', client: watch?.(command.targets) ?? '' });
      break;
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
