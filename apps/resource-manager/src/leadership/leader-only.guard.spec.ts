import { jest } from '@jest/globals';
import {
  Controller,
  Get,
  HttpCode,
  HttpException,
  Post,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { FakeLeadership } from '../../../../test/fixtures/resource-manager-services.js';
import { ClusterController } from '../cluster.controller.js';
import { LeaderOnlyGuard, ServedByStandby } from './leader-only.guard.js';
import { ResourceManagerLeadership } from './resource-manager-leadership.service.js';

/** What each endpoint was asked, to tell a guarded request from a served one. */
const served: string[] = [];

@Controller()
class ProbeController {
  @Get('taskmanagers')
  list() {
    served.push('taskmanagers');
    return { taskmanagers: [] };
  }

  @Post('slots/allocate')
  @HttpCode(200)
  allocate() {
    served.push('allocate');
    return { allocations: [] };
  }

  @Get('overview')
  @ServedByStandby()
  overview() {
    served.push('overview');
    return { leader: false };
  }
}

/** A whole controller any ResourceManager answers. */
@ServedByStandby()
@Controller('everyone')
class EveryoneController {
  @Get()
  hello() {
    served.push('everyone');
    return { hello: 'world' };
  }
}

const NOT_THE_LEADER = { error: 'not the leader', leader: FakeLeadership.LEADER_URL };

describe('LeaderOnlyGuard, in an HTTP app', () => {
  let app: INestApplication;
  let leadership: FakeLeadership;
  let base: string;

  beforeEach(async () => {
    served.length = 0;
    leadership = new FakeLeadership();
    const moduleRef = await Test.createTestingModule({
      controllers: [ProbeController, EveryoneController],
      providers: [
        { provide: ResourceManagerLeadership, useValue: leadership },
        { provide: APP_GUARD, useClass: LeaderOnlyGuard },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
  });

  afterEach(async () => {
    await app.close();
  });

  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${base}${path}`, init);
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('lets the leader serve every endpoint', async () => {
    expect(await get('/taskmanagers')).toEqual({ status: 200, body: { taskmanagers: [] } });
    expect(await get('/slots/allocate', { method: 'POST' })).toEqual({
      status: 200,
      body: { allocations: [] },
    });
    expect(await get('/overview')).toEqual({ status: 200, body: { leader: false } });
    expect(served).toEqual(['taskmanagers', 'allocate', 'overview']);
  });

  it("answers a standby's requests 503 with exactly the error and the leader's URL, serving nothing", async () => {
    leadership.stepDown();
    expect(await get('/taskmanagers')).toEqual({ status: 503, body: NOT_THE_LEADER });
    expect(await get('/slots/allocate', { method: 'POST' })).toEqual({
      status: 503,
      body: NOT_THE_LEADER,
    });
    expect(served).toEqual([]);
  });

  it('lets a standby serve the endpoints marked @ServedByStandby(), on a handler or a controller', async () => {
    leadership.stepDown();
    expect(await get('/overview')).toEqual({ status: 200, body: { leader: false } });
    expect(await get('/everyone')).toEqual({ status: 200, body: { hello: 'world' } });
    expect(served).toEqual(['overview', 'everyone']);
  });

  it('names no leader when none is known', async () => {
    leadership.stepDown();
    jest.spyOn(leadership, 'leaderUrl').mockReturnValue(null as unknown as string);
    expect(await get('/taskmanagers')).toEqual({
      status: 503,
      body: { error: 'not the leader', leader: null },
    });
  });
});

/** A context of the given type for `handler` of `controller`. */
const contextOf = (type: string, controller: object, handler: () => unknown) =>
  ({
    getType: () => type,
    getHandler: () => handler,
    getClass: () => controller,
  }) as unknown as ExecutionContext;
/** An HTTP request to one of the ResourceManager's own endpoints. */
const clusterRequest = (handler: () => unknown) => contextOf('http', ClusterController, handler);

describe('LeaderOnlyGuard, on its own', () => {
  let leadership: FakeLeadership;
  let guard: LeaderOnlyGuard;

  beforeEach(() => {
    leadership = new FakeLeadership();
    guard = new LeaderOnlyGuard(
      new Reflector(),
      leadership as unknown as ResourceManagerLeadership,
    );
  });

  afterEach(() => jest.restoreAllMocks());

  it('ignores TCP messages and any other non-HTTP context: the services refuse those themselves', () => {
    leadership.stepDown();
    for (const type of ['rpc', 'ws']) {
      expect(
        guard.canActivate(contextOf(type, ProbeController, ProbeController.prototype.list)),
      ).toBe(true);
    }
  });

  it("serves the ResourceManager's overview on a standby, and refuses its other endpoints with 503", () => {
    leadership.stepDown();
    expect(guard.canActivate(clusterRequest(ClusterController.prototype.overview))).toBe(true);
    for (const handler of [
      ClusterController.prototype.taskManagers,
      ClusterController.prototype.taskManager,
      ClusterController.prototype.allocate,
      ClusterController.prototype.release,
    ]) {
      let thrown: unknown;
      try {
        guard.canActivate(clusterRequest(handler as () => unknown));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(HttpException);
      expect((thrown as HttpException).getStatus()).toBe(503);
      expect((thrown as HttpException).getResponse()).toEqual(NOT_THE_LEADER);
    }
  });

  it('asks the leadership on every request: a step-down takes effect at once', () => {
    const context = clusterRequest(ClusterController.prototype.taskManagers);
    expect(guard.canActivate(context)).toBe(true);
    leadership.stepDown();
    expect(() => guard.canActivate(context)).toThrow(HttpException);
  });
});
