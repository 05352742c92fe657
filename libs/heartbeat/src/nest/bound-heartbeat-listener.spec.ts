import { jest } from '@jest/globals';
import { Reflector } from '@nestjs/core';
import type { HeartbeatLogger } from '../core/heartbeat-listener.interface.js';
import { BoundHeartbeatListener } from './bound-heartbeat-listener.js';
import {
  OnHeartbeatPayload,
  OnHeartbeatTimeout,
  OnIncomingHeartbeat,
  OnTargetUnreachable,
  ProvideHeartbeatPayload,
} from './decorators/heartbeat-handler.decorator.js';
import { HeartbeatMetadataAccessor } from './heartbeat-metadata.accessor.js';
import {
  HeartbeatHandlerKind,
  type IncomingHeartbeat,
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
  const heartbeat: IncomingHeartbeat = {
    manager: 'a',
    kind: 'request',
    origin: 'rm',
    payload: null,
  };

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

  it('accepts a heartbeat when there are no incoming handlers, or when none says false', async () => {
    await expect(listener.accepts(heartbeat)).resolves.toEqual({ accepted: true });
    listener.onIncoming({ where: 'A.one', call: () => true });
    listener.onIncoming({ where: 'A.two', call: async () => undefined });
    listener.onIncoming({ where: 'A.three', call: () => 0 });
    await expect(listener.accepts(heartbeat)).resolves.toEqual({ accepted: true });
  });

  it('stops at the first incoming handler that rejects: later ones do not run', async () => {
    const later = jest.fn(() => true);
    listener.onIncoming({ where: 'A.one', call: () => true });
    listener.onIncoming({ where: 'A.two', call: async () => false });
    listener.onIncoming({ where: 'A.three', call: later });

    await expect(listener.accepts(heartbeat)).resolves.toEqual({
      accepted: false,
      reason: 'rejected by A.two',
    });
    expect(later).not.toHaveBeenCalled();
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
