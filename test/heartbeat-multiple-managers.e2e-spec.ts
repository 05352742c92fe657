import { HeartbeatModule } from 'nestjs-heartbeat';
import { AppPool } from './fixtures/heartbeat-apps.js';
import { waitFor } from './fixtures/e2e-utils.js';
import { definePeer } from './fixtures/heartbeat-peer.js';
import { SETTINGS } from './fixtures/sender-receiver.js';

// Like Flink's ResourceManager: one sender manager for TaskManagers, one for JobMasters.
const TaskManagersPeer = definePeer('taskManagers', 'resourceManager');
const JobMastersPeer = definePeer('jobMasters', 'resourceManager');
// A TaskManager and a JobMaster each answer through a receiver manager of their own.
const TaskManagerSidePeer = definePeer('resourceManager', 'taskManagers');
const JobMasterSidePeer = definePeer('resourceManager', 'jobMasters');

const RM_ID = 'resource-manager';
const TM_ID = 'task-manager-1';
const JM_ID = 'job-master-1';

describe('two sender managers in one app', () => {
  const apps = new AppPool();
  afterEach(() => apps.closeAll());

  it('monitor their own receivers independently: a lost JobMaster times out only in its manager', async () => {
    const rmApp = await apps.start({
      imports: [
        HeartbeatModule.forRoot({
          resourceId: RM_ID,
          managers: { taskManagers: 'sender', jobMasters: 'sender' },
          ...SETTINGS,
        }),
      ],
      providers: [TaskManagersPeer, JobMastersPeer],
    });
    const receiverModule = (resourceId: string, peer: typeof TaskManagerSidePeer) => ({
      imports: [
        HeartbeatModule.forRoot({
          resourceId,
          managers: { resourceManager: 'receiver' },
          ...SETTINGS,
        }),
      ],
      providers: [peer],
    });
    const tmApp = await apps.start(receiverModule(TM_ID, TaskManagerSidePeer));
    const jmApp = await apps.start(receiverModule(JM_ID, JobMasterSidePeer));

    const taskManagers = rmApp.get(TaskManagersPeer);
    const jobMasters = rmApp.get(JobMastersPeer);
    const taskManager = tmApp.get(TaskManagerSidePeer);
    const jobMaster = jmApp.get(JobMasterSidePeer);
    taskManager.monitor(RM_ID, rmApp.port);
    jobMaster.monitor(RM_ID, rmApp.port);
    taskManagers.monitor(TM_ID, tmApp.port);
    jobMasters.monitor(JM_ID, jmApp.port);

    await waitFor('payloads in both managers and both receivers', () =>
      [taskManagers, jobMasters, taskManager, jobMaster].every(
        (peer) => peer.of('payload').length >= 3,
      ),
    );
    // Each manager hears only from its own receiver, and each receiver gets its own manager's payloads.
    expect(new Set(taskManagers.of('payload').map((event) => event.id))).toEqual(new Set([TM_ID]));
    expect(new Set(jobMasters.of('payload').map((event) => event.id))).toEqual(new Set([JM_ID]));
    expect(taskManager.of('payload')[0]?.payload).toMatchObject({ from: RM_ID, to: TM_ID });
    expect(jobMaster.of('payload')[0]?.payload).toMatchObject({ from: RM_ID, to: JM_ID });
    expect(taskManagers.manager.getMonitoredTargets()).toEqual([TM_ID]);
    expect(jobMasters.manager.getMonitoredTargets()).toEqual([JM_ID]);
    expect(taskManagers.manager.getLastHeartbeatFrom(JM_ID)).toBe(-1);
    expect(jobMasters.manager.getLastHeartbeatFrom(TM_ID)).toBe(-1);

    await jmApp.close();
    const [timeout] = await waitFor(
      'the JobMasters manager to time out the JobMaster',
      () => jobMasters.of('timeout').length > 0 && jobMasters.of('timeout'),
      { timeout: SETTINGS.timeout + 3_000 },
    );
    expect(timeout.id).toBe(JM_ID);

    // The TaskManagers manager goes on: no timeout, and fresh payloads after the JobMaster's timeout.
    const tmPayloadsAtTimeout = taskManagers.of('payload').length;
    await waitFor(
      'more payloads from the TaskManager',
      () => taskManagers.of('payload').length >= tmPayloadsAtTimeout + 3,
    );
    expect(taskManagers.of('timeout')).toEqual([]);
    expect(taskManager.of('timeout')).toEqual([]);
    expect(Date.now() - taskManagers.manager.getLastHeartbeatFrom(TM_ID)).toBeLessThan(
      SETTINGS.timeout / 2,
    );
    expect(jobMasters.of('timeout')).toEqual([timeout]);
  }, 15_000);
});
