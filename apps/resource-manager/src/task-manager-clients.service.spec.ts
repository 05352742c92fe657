import { jest } from '@jest/globals';
import { ClientTCP } from '@nestjs/microservices';
import { Subject } from 'rxjs';
import { readFrameLimits, TaskManagerPatterns } from '#cluster';
import type { ResourceManagerConfig } from './resource-manager.config.js';
import { TaskManagerClients } from './task-manager-clients.service.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const order = {
  fencingToken: 'fencing-token-1',
  credential: 'credential-1',
  reason: 'unreachable',
};

describe('TaskManagerClients', () => {
  let clients: TaskManagerClients;
  let close: jest.SpiedFunction<ClientTCP['close']>;
  /** The answer to every send, settled by each spec. */
  let answer: Subject<unknown>;
  let send: jest.SpiedFunction<ClientTCP['send']>;

  beforeEach(() => {
    answer = new Subject();
    send = jest.spyOn(ClientTCP.prototype, 'send').mockImplementation(() => answer as never);
    close = jest.spyOn(ClientTCP.prototype, 'close');
    const config = {
      frameLimits: readFrameLimits({}),
      tls: null,
    } as unknown as ResourceManagerConfig;
    clients = new TaskManagerClients(config);
  });

  afterEach(() => {
    clients.onApplicationShutdown();
    answer.complete();
    jest.restoreAllMocks();
  });

  const closed = (client: ClientTCP) => close.mock.contexts.filter((context) => context === client);

  it('delivers the disconnect order before it closes the client', async () => {
    const client = clients.open('127.0.0.1', 40_001);

    clients.disconnectAndClose(client, order);
    expect(send).toHaveBeenCalledWith(TaskManagerPatterns.disconnect, order);
    expect(closed(client)).toHaveLength(0);

    answer.next({ accepted: true });
    answer.complete();
    await settle();
    expect(closed(client)).toHaveLength(1);
  });

  it('closes the client when the disconnect order fails, too', async () => {
    const client = clients.open('127.0.0.1', 40_001);
    clients.disconnectAndClose(client, order);
    answer.error(new Error('ECONNREFUSED'));
    await settle();
    expect(closed(client)).toHaveLength(1);
  });

  it('closes on shutdown every client still open or still delivering its disconnect order', () => {
    const registered = clients.open('127.0.0.1', 40_001);
    const released = clients.open('127.0.0.1', 40_002);
    const closedAlready = clients.open('127.0.0.1', 40_003);
    clients.disconnectAndClose(released, order);
    clients.close(closedAlready);
    close.mockClear();

    clients.onApplicationShutdown();

    expect(close.mock.contexts).toEqual(expect.arrayContaining([registered, released]));
    expect(close.mock.contexts).toHaveLength(2);
  });
});
