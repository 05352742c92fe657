import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import { JSON_BODY_REQUIRED, requireJsonObject } from './json-body.js';

/** The message of the exception `requireJsonObject` throws for `contentType`, checked to be a 415. */
function refused(contentType: string | undefined): string {
  let thrown: unknown;
  try {
    requireJsonObject(contentType, {});
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UnsupportedMediaTypeException);
  expect((thrown as UnsupportedMediaTypeException).getStatus()).toBe(415);
  return (thrown as Error).message;
}

describe('requireJsonObject (the HTTP API’s JSON bodies)', () => {
  it('returns a JSON object sent as application/json, whatever its parameters or case', () => {
    const body = { jobId: 'job-1', count: 1 };
    expect(requireJsonObject('application/json', body)).toBe(body);
    expect(requireJsonObject('application/json; charset=utf-8', body)).toBe(body);
    expect(requireJsonObject(' Application/JSON ;charset=UTF-8', body)).toBe(body);
    expect(requireJsonObject('application/json', {})).toEqual({});
  });

  it('answers 415 for any other content type, or none', () => {
    expect(refused(undefined)).toBe(`${JSON_BODY_REQUIRED}, got no content-type`);
    expect(refused('text/plain')).toBe(`${JSON_BODY_REQUIRED}, got content-type text/plain`);
    expect(refused('application/jsonx')).toBe(
      `${JSON_BODY_REQUIRED}, got content-type application/jsonx`,
    );
    expect(refused('application/x-www-form-urlencoded')).toMatch(
      /got content-type application\/x-www-form-urlencoded \(what curl -d sends unless given -H 'content-type: application\/json'\)$/,
    );
  });

  it('answers 400 for JSON that is no object, or no body at all', () => {
    for (const [body, got] of [
      [undefined, 'no body'],
      [null, 'null'],
      [[{ jobId: 'job-1' }], 'an array'],
      ['job-1', 'a string'],
      [3, 'a number'],
      [true, 'a boolean'],
    ] as const) {
      expect(() => requireJsonObject('application/json', body)).toThrow(
        new BadRequestException(`request body must be a JSON object, got ${got}`),
      );
    }
  });
});
