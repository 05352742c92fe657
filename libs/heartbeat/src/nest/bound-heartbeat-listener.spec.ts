import { jest } from '@jest/globals';
import { Reflector } from '@nestjs/core';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import { acceptHeartbeat, type AcceptedHeartbeat } from './accepted-heartbeat.js';
import { BoundHeartbeatListener } from './bound-heartbeat-listener.js';
import {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  OnTargetLost,
  OnTargetUnreachable,
  ProvideHeartbeatPayload,
} from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatMetadataAccessor } from './heartbeat-metadata.accessor.js';
import {
  HeartbeatHandlerKind,
  type IncomingHeartbeat,
  type TargetLossReason,
} from './interfaces/heartbeat-handler.interface.js';

class Decorated {
  @OnHeartbeatTimeout('a')
  @OnTargetUnreachable('a')
  @OnHeartbeatTimeout('b')
  lost(_id: string): void {}

  @OnHeartbeatPayload('a')
  payload(_id: string, _payload: unknown): void {}

  @ProvideHeartbeatPayload('a')
  provide(_id: string): null {
    return null;
  }

  @OnIncomingHeartbeat('b')
  incoming(_heartbeat: IncomingHeartbeat): boolean {
    return true;
  }

  @OnIncomingHeartbeat<number, string>('a')
  parse(heartbeat: IncomingHeartbeat<number>): AcceptedHeartbeat<string> {
    return acceptHeartbeat(String(heartbeat.payload));
  }

  @OnTargetLost('a')
  gone(_id: string, _reason: TargetLossReason): void {}

  plain(): void {}
}

describe('handler decorators and HeartbeatMetadataAccessor', () => {
  const accessor = new HeartbeatMetadataAccessor(new Reflector());
  const proto = Decorated.prototype;

  it('record what each method handles, several per method', () => {
    // Decorators apply bottom-up.
    expect(accessor.getHandlers(proto.lost)).toEqual([
      { kind: HeartbeatHandlerKind.Timeout, manager: 'b' },
      { kind: HeartbeatHandlerKind.TargetUnreachable, manager: 'a' },
      { kind: HeartbeatHandlerKind.Timeout, manager: 'a' },
    ]);
    expect(accessor.getHandlers(proto.payload)).toEqual([
      { kind: HeartbeatHandlerKind.PayloadReceived, manager: 'a' },
    ]);
    expect(accessor.getHandlers(proto.provide)).toEqual([
      { kind: HeartbeatHandlerKind.PayloadToSend, manager: 'a' },
    ]);
    expect(accessor.getHandlers(proto.incoming)).toEqual([
      { kind: HeartbeatHandlerKind.IncomingHeartbeat, manager: 'b' },
    ]);
    expect(accessor.getHandlers(proto.parse)).toEqual([
      { kind: HeartbeatHandlerKind.IncomingHeartbeat, manager: 'a' },
    ]);
    expect(accessor.getHandlers(proto.gone)).toEqual([
      { kind: HeartbeatHandlerKind.TargetLost, manager: 'a' },
    ]);
  });

  it('finds nothing on undecorated methods and on non-functions', () => {
    expect(accessor.getHandlers(proto.plain)).toEqual([]);
    expect(accessor.getHandlers(undefined)).toEqual([]);
    expect(accessor.getHandlers('lost')).toEqual([]);
    expect(accessor.getHandlers({})).toEqual([]);
  });
});

describe('BoundHeartbeatListener', () => {
  let logger: {
    warn: jest.Mock<HeartbeatLogger['warn']>;
    error: jest.Mock<HeartbeatLogger['error']>;
  };
  let listener: BoundHeartbeatListener;

  beforeEach(() => {
    logger = { warn: jest.fn(), error: jest.fn() };
    listener = new BoundHeartbeatListener('a', logger);
  });

  it('retrieves null when no payload provider is bound', () => {
    expect(listener.retrievePayload('rm')).toBeNull();
  });

  it('lets a payload provider error propagate (the manager logs it and sends no payload)', () => {
    listener.providePayload({
      where: 'P.provide',
      call: () => {
        throw new Error('no slots');
      },
    });
    expect(() => listener.retrievePayload('rm')).toThrow('no slots');
  });

  it('calls the timeout handlers, then the loss handlers with "timeout"', () => {
    const seen: string[] = [];
    listener.onLost({ where: 'A.lost', call: (id, reason) => seen.push(`lost ${id} ${reason}`) });
    listener.onTimeout({ where: 'A.timeout', call: (id) => seen.push(`timeout ${id}`) });
    listener.onUnreachable({
      where: 'A.unreachable',
      call: (id) => seen.push(`unreachable ${id}`),
    });

    listener.notifyHeartbeatTimeout('tm-1');

    expect(seen).toEqual(['timeout tm-1', 'lost tm-1 timeout']);
  });

  it('calls the unreachable handlers, then the loss handlers with "unreachable"', () => {
    const seen: string[] = [];
    listener.onLost({ where: 'A.first', call: (id, reason) => seen.push(`first ${id} ${reason}`) });
    listener.onLost({
      where: 'A.second',
      call: (id, reason) => seen.push(`second ${id} ${reason}`),
    });
    listener.onUnreachable({
      where: 'A.unreachable',
      call: (id) => seen.push(`unreachable ${id}`),
    });
    listener.onTimeout({ where: 'A.timeout', call: (id) => seen.push(`timeout ${id}`) });

    listener.notifyTargetUnreachable('tm-2');

    expect(seen).toEqual(['unreachable tm-2', 'first tm-2 unreachable', 'second tm-2 unreachable']);
  });

  it('a loss handler that throws is logged; the other loss handlers still run', () => {
    const seen: string[] = [];
    listener.onTimeout({
      where: 'A.timeoutBroken',
      call: () => {
        throw new Error('timeout boom');
      },
    });
    listener.onLost({
      where: 'A.lostBroken',
      call: () => {
        throw new Error('lost boom');
      },
    });
    listener.onLost({ where: 'A.lostOk', call: (id, reason) => seen.push(`${id} ${reason}`) });

    listener.notifyHeartbeatTimeout('tm-3');

    expect(seen).toEqual(['tm-3 timeout']);
    expect(logger.error.mock.calls.map(([message]) => message)).toEqual([
      'A.timeoutBroken failed: timeout boom',
      'A.lostBroken failed: lost boom',
    ]);
  });

  it('runs every notify handler even when one throws, logging with the Class.method', () => {
    const seen: string[] = [];
    listener.onUnreachable({
      where: 'A.broken',
      call: () => {
        throw new Error('boom');
      },
    });
    listener.onUnreachable({ where: 'A.ok', call: (id: string) => seen.push(id) });

    listener.notifyTargetUnreachable('tm-1');

    expect(seen).toEqual(['tm-1']);
    expect(logger.error).toHaveBeenCalledWith(
      'A.broken failed: boom',
      expect.stringContaining('Error: boom'),
    );
  });
});
