import { Logger, type PipeTransform } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { z } from 'zod';
import { parseMessage } from './protocol.js';

/**
 * A validation pipe for a message handler's `@Payload()`: checks the message against its declared
 * schema; a message that does not fit is logged and answered with an error reply naming the field.
 */
export class MessageShape<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  private static readonly logger = new Logger('Protocol');

  constructor(
    private readonly schema: S,
    private readonly what: string,
  ) {}

  transform(value: unknown): z.output<S> {
    try {
      return parseMessage(this.schema, value, this.what);
    } catch (error) {
      const reason = (error as Error).message;
      MessageShape.logger.warn(`Rejected a message: ${reason}`);
      throw new RpcException(reason);
    }
  }
}
