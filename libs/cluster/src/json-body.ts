import {
  BadRequestException,
  createParamDecorator,
  UnsupportedMediaTypeException,
  type ExecutionContext,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

export const JSON_BODY_REQUIRED = 'request body must be JSON (content-type: application/json)';

/**
 * The request's body, for an endpoint that takes a JSON object. Nest's body parser reads only an
 * `application/json` body as JSON, and leaves any other (none, `text/plain`, or the
 * `application/x-www-form-urlencoded` of `curl -d` without `-H`) unread or parsed as something
 * else: the handler would then see no fields at all and blame the first one it checks. So any other
 * content type answers 415, and a JSON body that is not an object 400, each saying so.
 */
export const JsonBody = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Record<string, unknown> => {
    const request = context.switchToHttp().getRequest<IncomingMessage & { body?: unknown }>();
    // An empty body (content-length 0) comes out of the body parser as {}: tell it apart.
    const empty = request.headers['content-length'] === '0';
    return requireJsonObject(request.headers['content-type'], empty ? undefined : request.body);
  },
);

/** `body` if `contentType` is `application/json` (any parameters) and `body` a JSON object. */
export function requireJsonObject(
  contentType: string | undefined,
  body: unknown,
): Record<string, unknown> {
  const mediaType = contentType?.split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json') {
    const got = contentType === undefined ? 'no content-type' : `content-type ${contentType}`;
    const hint =
      mediaType === 'application/x-www-form-urlencoded'
        ? ` (what curl -d sends unless given -H 'content-type: application/json')`
        : '';
    throw new UnsupportedMediaTypeException(`${JSON_BODY_REQUIRED}, got ${got}${hint}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException(`request body must be a JSON object, got ${describeBody(body)}`);
  }
  return body as Record<string, unknown>;
}

function describeBody(body: unknown): string {
  if (body === undefined) {
    return 'no body';
  }
  if (body === null) {
    return 'null';
  }
  return Array.isArray(body) ? 'an array' : `a ${typeof body}`;
}
