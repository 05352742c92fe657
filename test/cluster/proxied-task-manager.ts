/**
 * A ResourceManager and one TaskManager (real processes) whose traffic both ways runs through
 * fault proxies: the TaskManager's RM_TCP_PORT points at `toResourceManager`, and it advertises
 * `toTaskManager` (TM_ADVERTISED_PORT), so the ResourceManager's heartbeat requests and commands
 * go through it too.
 */
import { FaultProxy } from '../fixtures/fault-proxy.js';
import {
  freePort,
  HOST,
  waitFor,
  type Cluster,
  type HeartbeatSettings,
  type ResourceManagerProcess,
  type TaskManagerProcess,
} from './cluster-harness.js';

export interface ProxiedTaskManager {
  readonly rm: ResourceManagerProcess;
  readonly tm: TaskManagerProcess;
  readonly fencingToken: string;
  /** TaskManager → ResourceManager: registration, heartbeat answers, goodbye. */
  readonly toResourceManager: FaultProxy;
  /** ResourceManager → TaskManager: heartbeat requests, slot commands, disconnect. */
  readonly toTaskManager: FaultProxy;
  /** Closes both proxies (the cluster kills the processes). */
  close(): Promise<void>;
}

export async function startProxiedTaskManager(
  cluster: Cluster,
  { id, slots, heartbeat }: { id: string; slots: number; heartbeat?: HeartbeatSettings },
): Promise<ProxiedTaskManager> {
  const rm = await cluster.startResourceManager({ heartbeat });
  const taskManagerPort = await freePort();
  const toResourceManager = await FaultProxy.start({ host: HOST, port: rm.tcpPort }, { seed: 1 });
  const toTaskManager = await FaultProxy.start({ host: HOST, port: taskManagerPort }, { seed: 2 });
  const close = async () => {
    await Promise.all([toResourceManager.close(), toTaskManager.close()]);
  };
  try {
    const fencingToken = await rm.ready();
    const tm = cluster.startTaskManager({
      id,
      slots,
      resourceManagerTcpPort: toResourceManager.port,
      heartbeat,
      env: {
        TM_TCP_PORT: String(taskManagerPort),
        TM_ADVERTISED_PORT: String(toTaskManager.port),
      },
    });
    await tm.registered(fencingToken);
    // The ResourceManager knows it by the proxy's address, and heartbeats go through both ways
    // (until the first one, lastHeartbeat is the registration time: it must move).
    let firstSeen: number | undefined;
    await waitFor(
      async () => {
        const view = (await rm.taskManagers()).find((candidate) => candidate.id === id);
        if (view?.address !== `${HOST}:${toTaskManager.port}`) {
          return false;
        }
        firstSeen ??= view.lastHeartbeat;
        return view.lastHeartbeat !== firstSeen;
      },
      { timeoutMs: 10_000, description: `${id} to be listed behind the proxy` },
    );
    return { rm, tm, fencingToken, toResourceManager, toTaskManager, close };
  } catch (error) {
    await close();
    throw error;
  }
}
