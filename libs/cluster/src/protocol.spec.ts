import { jest } from '@jest/globals';
import { RpcException } from '@nestjs/microservices';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EnvironmentError, readFrameLimits } from './env.js';
import { MessageShape } from './message-shape.js';
import {
  allocateSlotsRequestSchema,
  disconnectRequestSchema,
  largestTaskManagerFrame,
  MAX_SLOTS,
  parseMessage,
  ProtocolError,
  registrationRequestSchema,
  registrationResponseSchema,
  releaseSlotsRequestSchema,
  resourceManagerHeartbeatSchema,
  slotReportProblem,
  slotReportSchema,
  taskManagerHeartbeatSchema,
  unregistrationRequestSchema,
  type SlotStatus,
} from './protocol.js';

const registration = { taskManagerId: 'tm-1', host: '127.0.0.1', port: 40_000, slots: 4 };
const freeSlot = (index: number): SlotStatus => ({
  index,
  free: true,
  allocationId: null,
  jobId: null,
});
const usedSlot = (index: number): SlotStatus => ({
  index,
  free: false,
  allocationId: 'a-1',
  jobId: 'job-1',
});

/** The longest id made of `seed`'s characters (all allowed by the id pattern, none escaped in JSON). */
const widest = (seed: string) => seed.repeat(128).slice(0, 128);

/** The ProtocolError message `parseMessage` throws, or undefined if the value fits. */
function rejection(schema: Parameters<typeof parseMessage>[0], value: unknown, what = 'msg') {
  try {
    parseMessage(schema, value, what);
    return undefined;
  } catch (error) {
    return error instanceof ProtocolError ? error.message : `not a ProtocolError: ${String(error)}`;
  }
}

describe('message schemas', () => {
  describe('registration', () => {
    it('accepts a well-formed registration as it is', () => {
      expect(parseMessage(registrationRequestSchema, registration, 'registration')).toEqual(
        registration,
      );
    });

    it.each<[string, unknown, RegExp]>([
      ['not an object', 'tm-1', /^registration: /],
      ['an array', [registration], /^registration: /],
      [
        'a missing id',
        { ...registration, taskManagerId: undefined },
        /^registration\.taskManagerId: /,
      ],
      [
        'an id with a space',
        { ...registration, taskManagerId: 'tm 1' },
        /^registration\.taskManagerId: must be 1 to 128 characters/,
      ],
      [
        'a 129-character id',
        { ...registration, taskManagerId: 'x'.repeat(129) },
        /^registration\.taskManagerId: /,
      ],
      ['zero slots', { ...registration, slots: 0 }, /^registration\.slots: /],
      ['too many slots', { ...registration, slots: MAX_SLOTS + 1 }, /^registration\.slots: /],
      ['a fractional slot count', { ...registration, slots: 1.5 }, /^registration\.slots: /],
      ['a numeric string slot count', { ...registration, slots: '4' }, /^registration\.slots: /],
      ['port 0', { ...registration, port: 0 }, /^registration\.port: /],
      ['an empty host', { ...registration, host: '' }, /^registration\.host: /],
      [
        'an extra field',
        { ...registration, admin: true },
        /^registration: Unrecognized key: "admin"/,
      ],
    ])('rejects %s, naming the field', (_case, value, reason) => {
      expect(rejection(registrationRequestSchema, value, 'registration')).toMatch(reason);
    });

    it('keeps the reason short when it quotes a huge unknown key', () => {
      const reason = rejection(registrationRequestSchema, {
        ...registration,
        ['k'.repeat(10_000)]: 1,
      });
      expect(reason).toMatch(/^msg: Unrecognized key: "kkk/);
      expect(reason?.length).toBeLessThanOrEqual(300);
    });

    it('requires a credential in the answer and in a goodbye', () => {
      const answer = {
        resourceManagerId: 'resource-manager-1',
        fencingToken: '1001',
        credential: 'c',
      };
      expect(parseMessage(registrationResponseSchema, answer, 'answer')).toEqual(answer);
      expect(rejection(registrationResponseSchema, { ...answer, credential: undefined })).toMatch(
        /^msg\.credential: /,
      );
      expect(
        rejection(unregistrationRequestSchema, { taskManagerId: 'tm-1', fencingToken: '1001' }),
      ).toMatch(/^msg\.credential: /);
    });

    it('takes only numeric fencing tokens in the answer and in a goodbye, as digit strings', () => {
      const answer = {
        resourceManagerId: 'resource-manager-1',
        fencingToken: 1001,
        credential: 'c',
      };
      expect(parseMessage(registrationResponseSchema, answer, 'answer')).toEqual({
        ...answer,
        fencingToken: '1001',
      });
      // The random tokens of before are no fencing tokens any more.
      expect(
        rejection(registrationResponseSchema, { ...answer, fencingToken: 'fencing-token-1' }),
      ).toBe('msg.fencingToken: must be a string of 1 to 20 digits');
      expect(
        rejection(unregistrationRequestSchema, {
          taskManagerId: 'tm-1',
          fencingToken: -1,
          credential: 'c',
        }),
      ).toMatch(/^msg\.fencingToken: /);
    });

    it('takes a slot report with the registration, checked like any other', () => {
      const withReport = {
        ...registration,
        credential: 'c',
        slotReport: { version: 7, slots: [usedSlot(0), freeSlot(1), freeSlot(2), freeSlot(3)] },
      };
      expect(parseMessage(registrationRequestSchema, withReport, 'registration')).toEqual(
        withReport,
      );
      expect(
        rejection(
          registrationRequestSchema,
          { ...registration, slotReport: { version: 1, slots: [{ ...usedSlot(0), jobId: null }] } },
          'registration',
        ),
      ).toMatch(/^registration\.slotReport\.slots\[0\]\.jobId: /);
    });
  });

  describe('slot reports', () => {
    it('accepts free and allocated slots', () => {
      const report = { version: 3, slots: [freeSlot(0), usedSlot(1)] };
      expect(parseMessage(slotReportSchema, report, 'slot report')).toEqual(report);
    });

    it.each<[string, unknown, RegExp]>([
      ['a negative version', { version: -1, slots: [] }, /^slot report\.version: /],
      ['a missing slots array', { version: 1 }, /^slot report\.slots: /],
      [
        'more slots than any TaskManager has',
        {
          version: 1,
          slots: Array.from({ length: MAX_SLOTS + 1 }, (_, i) => freeSlot(i % MAX_SLOTS)),
        },
        /^slot report\.slots: /,
      ],
      [
        'a free slot with an allocation',
        { version: 1, slots: [{ ...freeSlot(0), allocationId: 'a-1' }] },
        /^slot report\.slots\[0\]\.allocationId: /,
      ],
      [
        'an allocated slot without a job',
        { version: 1, slots: [{ ...usedSlot(0), jobId: null }] },
        /^slot report\.slots\[0\]\.jobId: /,
      ],
      [
        'a slot whose free flag is a string',
        { version: 1, slots: [{ ...freeSlot(0), free: 'yes' }] },
        /^slot report\.slots\[0\]\.free: /,
      ],
      [
        'an out-of-range index',
        { version: 1, slots: [freeSlot(MAX_SLOTS)] },
        /^slot report\.slots\[0\]\.index: /,
      ],
    ])('rejects %s, naming the field', (_case, value, reason) => {
      expect(rejection(slotReportSchema, value, 'slot report')).toMatch(reason);
    });
  });

  describe('heartbeat payloads', () => {
    it('a TaskManager heartbeat carries token, credential and slot report, nothing else', () => {
      const heartbeat = {
        fencingToken: '1001',
        credential: 'c',
        slotReport: { version: 0, slots: [freeSlot(0)] },
      };
      expect(parseMessage(taskManagerHeartbeatSchema, heartbeat, 'hb')).toEqual(heartbeat);
      expect(rejection(taskManagerHeartbeatSchema, { ...heartbeat, credential: '' })).toMatch(
        /^msg\.credential: /,
      );
      expect(rejection(taskManagerHeartbeatSchema, null)).toMatch(/^msg: /);
      expect(rejection(taskManagerHeartbeatSchema, heartbeat.slotReport)).toMatch(/^msg/);
    });

    it("the ResourceManager's heartbeat requests carry its fencing token and the registration's credential", () => {
      const proof = { fencingToken: '1001', credential: 'c' };
      expect(parseMessage(resourceManagerHeartbeatSchema, proof, 'hb')).toEqual(proof);
      expect(rejection(resourceManagerHeartbeatSchema, null)).toMatch(/^msg: /);
      for (const fencingToken of ['t', '1.5', -7, 1.5, true, null]) {
        expect(rejection(resourceManagerHeartbeatSchema, { ...proof, fencingToken })).toMatch(
          /^msg\.fencingToken: /,
        );
      }
      expect(rejection(resourceManagerHeartbeatSchema, { fencingToken: '1001' })).toMatch(
        /^msg\.credential: /,
      );
    });
  });

  describe('commands', () => {
    const proof = { fencingToken: '1001', credential: 'c' };

    it('bounds allocations, release lists and reasons', () => {
      const allocation = { slotIndex: 0, allocationId: 'a', jobId: 'j' };
      expect(rejection(allocateSlotsRequestSchema, { ...proof, allocations: [] })).toMatch(
        /^msg\.allocations: /,
      );
      expect(
        rejection(allocateSlotsRequestSchema, {
          ...proof,
          allocations: [{ ...allocation, slotIndex: -1 }],
        }),
      ).toMatch(/^msg\.allocations\[0\]\.slotIndex: /);
      expect(
        rejection(releaseSlotsRequestSchema, { ...proof, jobId: 'j', allocationIds: [1] }),
      ).toMatch(/^msg\.allocationIds\[0\]: /);
      expect(parseMessage(releaseSlotsRequestSchema, { ...proof, jobId: 'j' }, 'release')).toEqual({
        ...proof,
        jobId: 'j',
      });
      expect(rejection(disconnectRequestSchema, { ...proof, reason: 'r'.repeat(1_001) })).toMatch(
        /^msg\.reason: /,
      );
    });

    it.each([
      [
        'an allocation',
        allocateSlotsRequestSchema,
        { allocations: [{ slotIndex: 0, allocationId: 'a', jobId: 'j' }] },
      ],
      ['a release', releaseSlotsRequestSchema, { jobId: 'j' }],
      ['a disconnect', disconnectRequestSchema, { reason: 'r' }],
    ])("%s must carry the registration's credential", (_case, schema, body) => {
      expect(rejection(schema, { ...proof, ...body })).toBeUndefined();
      expect(rejection(schema, { fencingToken: '1001', ...body })).toMatch(/^msg\.credential: /);
    });

    it.each([
      ['quotes', '"'.repeat(128)],
      ['control characters', '\u0001'.repeat(128)],
      ['a slash', 'job/1'],
    ])('takes allocation and job ids only of the id pattern, not %s', (_case, bad) => {
      const allocation = { slotIndex: 0, allocationId: 'a', jobId: 'j' };
      expect(
        rejection(allocateSlotsRequestSchema, {
          ...proof,
          allocations: [{ ...allocation, jobId: bad }],
        }),
      ).toMatch(/^msg\.allocations\[0\]\.jobId: must be 1 to 128 characters/);
      expect(
        rejection(slotReportSchema, { version: 1, slots: [{ ...usedSlot(0), allocationId: bad }] }),
      ).toMatch(/^msg\.slots\[0\]\.allocationId: /);
      expect(rejection(releaseSlotsRequestSchema, { ...proof, jobId: bad })).toMatch(
        /^msg\.jobId: /,
      );
    });
  });
});

describe('MessageShape (validation pipe)', () => {
  afterEach(() => jest.restoreAllMocks());

  it('passes a message that fits, and answers one that does not with an RpcException naming the field, logged', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const pipe = new MessageShape(registrationRequestSchema, 'registration');
    expect(pipe.transform(registration)).toEqual(registration);

    let thrown: unknown;
    try {
      pipe.transform({ ...registration, slots: 'many' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RpcException);
    expect((thrown as RpcException).getError()).toMatch(/^registration\.slots: /);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Rejected a message: registration\.slots: /),
    );
  });
});

describe('frame limits', () => {
  it('default to the library heartbeat limits and read TCP_MAX_BUFFER_SIZE / TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS', () => {
    expect(readFrameLimits({})).toEqual({
      maxBufferSize: 65_536,
      incompleteMessageTimeout: 5_000,
      maxSendBufferSize: 262_144,
    });
    expect(
      readFrameLimits({ TCP_MAX_BUFFER_SIZE: '131072', TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS: '2000' }),
    ).toEqual({
      maxBufferSize: 131_072,
      incompleteMessageTimeout: 2_000,
      maxSendBufferSize: 524_288,
    });
  });

  it.each([
    ['TCP_MAX_BUFFER_SIZE', 'lots'],
    ['TCP_MAX_BUFFER_SIZE', '100'],
    ['TCP_INCOMPLETE_MESSAGE_TIMEOUT_MS', '0'],
  ])('rejects %s=%s, naming it', (name, value) => {
    expect(() => readFrameLimits({ [name]: value })).toThrow(EnvironmentError);
    expect(() => readFrameLimits({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
  });

  it('the largest TaskManager frame grows with the slots and is what a worst-case frame really takes', () => {
    const one = largestTaskManagerFrame(1);
    const two = largestTaskManagerFrame(2);
    expect(two).toBeGreaterThan(one);
    // Each slot adds the same amount; 200 slots fit the default 64 KiB frame, 1024 do not.
    expect(largestTaskManagerFrame(200)).toBeLessThanOrEqual(65_536);
    expect(largestTaskManagerFrame(MAX_SLOTS)).toBeGreaterThan(65_536);
  });

  it('bounds every heartbeat the schemas let through, whatever characters its ids use', () => {
    const slots = 3;
    const payload = parseMessage(
      taskManagerHeartbeatSchema,
      {
        fencingToken: '9'.repeat(20), // the widest fencing token
        credential: widest('-:._9Za'),
        slotReport: {
          version: Number.MAX_SAFE_INTEGER,
          slots: Array.from({ length: slots }, (_, index) => ({
            index,
            free: false,
            allocationId: widest(':._-'),
            jobId: widest('-_.:'),
          })),
        },
      },
      'heartbeat',
    );
    const json = JSON.stringify({
      pattern: 'heartbeat.receive',
      data: { manager: 'taskManagers', origin: widest('tm.'), payload },
      id: randomUUID(),
    });
    expect(`${json.length}#`.length + json.length).toBeLessThanOrEqual(
      largestTaskManagerFrame(slots),
    );
  });

  it('bounds every registration the TaskManager sends, with its full slot report', () => {
    const slots = 3;
    const request = parseMessage(
      registrationRequestSchema,
      {
        taskManagerId: widest('aZ9._:-'),
        // TM_ADVERTISED_HOST takes A-Z a-z 0-9 . : - only (see readHost), none escaped in JSON.
        host: 'aZ9.:-'.repeat(253).slice(0, 253),
        port: 65_535,
        slots,
        credential: widest('-:._9Za'),
        slotReport: {
          version: Number.MAX_SAFE_INTEGER,
          slots: Array.from({ length: slots }, (_, index) => ({
            index,
            free: false,
            allocationId: widest(':._-'),
            jobId: widest('-_.:'),
          })),
        },
      },
      'registration',
    );
    const json = JSON.stringify({
      pattern: 'rm.register-task-manager',
      data: request,
      id: randomUUID(),
    });
    expect(`${json.length}#`.length + json.length).toBeLessThanOrEqual(
      largestTaskManagerFrame(slots),
    );
  });
});

const report = (slots: SlotStatus[]) => ({ version: 1, slots });

describe('slotReportProblem', () => {
  it('finds nothing wrong with a report of exactly the slots, in order', () => {
    expect(slotReportProblem(report([usedSlot(0), freeSlot(1)]), 2)).toBeUndefined();
    expect(slotReportProblem(report([freeSlot(0)]), 1)).toBeUndefined();
  });

  it.each<[string, SlotStatus[]]>([
    ['too few slots', [usedSlot(0)]],
    ['too many slots', [usedSlot(0), freeSlot(1), freeSlot(2)]],
    ['slots out of order', [freeSlot(1), usedSlot(0)]],
    ['a slot twice', [usedSlot(0), freeSlot(0)]],
  ])('names the slots expected for %s', (_case, slots) => {
    expect(slotReportProblem(report(slots), 2)).toBe(
      'its slot report must list its 2 slots in order',
    );
  });
});
