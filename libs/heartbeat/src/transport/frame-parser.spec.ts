import { FrameError, FrameParser } from './frame-parser.js';

/** A Nest TCP frame, `<length>#<json>`, the length in UTF-16 code units (as Nest counts it). */
const frameOf = (packet: unknown) => {
  const json = JSON.stringify(packet);
  return `${json.length}#${json}`;
};

/** A parser with the given limit and the frames it handed on, in order. */
function parser(maxFrameLength = 1_000) {
  const frames: string[] = [];
  return { frames, parser: new FrameParser(maxFrameLength, (json) => frames.push(json)) };
}

/** The error `push` threw (fails the test if it threw none). */
function pushError(frameParser: FrameParser, chunk: string | Buffer): unknown {
  try {
    frameParser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  } catch (error) {
    return error;
  }
  throw new Error('expected push to throw');
}

// "ä" is 2 bytes of UTF-8 and 1 UTF-16 unit, "€" 3 bytes and 1 unit, "🫀" 4 bytes and 2 units.
const REPLY = {
  id: '7',
  response: { accepted: true, heartbeat: { origin: 'tm-ä1', payload: { note: '€ 🫀 #5' } } },
  isDisposed: true,
};

describe('FrameParser', () => {
  it('hands on the JSON of a whole frame, without its length prefix', () => {
    const { frames, parser: frameParser } = parser();
    frameParser.push(Buffer.from(frameOf(REPLY)));
    expect(frames).toEqual([JSON.stringify(REPLY)]);
    expect(JSON.parse(frames[0])).toEqual(REPLY);
  });

  it('hands on every frame of a chunk, in order', () => {
    const { frames, parser: frameParser } = parser();
    frameParser.push(
      Buffer.from(frameOf({ id: '1' }) + frameOf({ id: '2' }) + frameOf({ id: '3' })),
    );
    expect(frames.map((json) => JSON.parse(json) as unknown)).toEqual([
      { id: '1' },
      { id: '2' },
      { id: '3' },
    ]);
  });

  it('counts the length in UTF-16 units of the decoded text, not in bytes', () => {
    const json = JSON.stringify(REPLY);
    const bytes = Buffer.from(frameOf(REPLY));
    expect(bytes.length).toBeGreaterThan(`${json.length}#`.length + json.length); // multi-byte text
    const { frames, parser: frameParser } = parser();
    frameParser.push(bytes);
    expect(frames).toEqual([json]);
  });

  it('takes a frame split at any byte, a multi-byte character split included', () => {
    const bytes = Buffer.from(frameOf(REPLY) + frameOf({ id: '8' }));
    for (let split = 1; split < bytes.length; split += 1) {
      const { frames, parser: frameParser } = parser();
      frameParser.push(bytes.subarray(0, split));
      frameParser.push(bytes.subarray(split));
      expect(frames.map((json) => JSON.parse(json) as unknown)).toEqual([REPLY, { id: '8' }]);
    }
  });

  it('takes frames that arrive one byte at a time, handing each on as soon as it is complete', () => {
    const first = Buffer.from(frameOf(REPLY));
    const bytes = Buffer.concat([first, Buffer.from(frameOf({ id: '8' }))]);
    const { frames, parser: frameParser } = parser();
    for (let index = 0; index < bytes.length; index += 1) {
      frameParser.push(bytes.subarray(index, index + 1));
      // The first frame is handed on with its last byte, not before.
      expect(frames).toHaveLength(index + 1 < first.length ? 0 : index + 1 < bytes.length ? 1 : 2);
    }
    expect(frames.map((json) => JSON.parse(json) as unknown)).toEqual([REPLY, { id: '8' }]);
  });

  it('waits for a length prefix split between chunks', () => {
    const { frames, parser: frameParser } = parser();
    frameParser.push(Buffer.from('1'));
    frameParser.push(Buffer.from('1#{"id":"12"'));
    expect(frames).toEqual([]);
    frameParser.push(Buffer.from('}'));
    expect(frames).toEqual(['{"id":"12"}']);
  });

  it('reads a "#" inside the JSON as text: the length says where a frame ends', () => {
    const { frames, parser: frameParser } = parser();
    frameParser.push(Buffer.from(frameOf({ id: '#1#' }) + frameOf({ id: '2' })));
    expect(frames).toEqual(['{"id":"#1#"}', '{"id":"2"}']);
  });

  it('hands on an empty frame ("0#") as an empty string', () => {
    const { frames, parser: frameParser } = parser();
    frameParser.push(Buffer.from('0#2#{}'));
    expect(frames).toEqual(['', '{}']);
  });

  describe('limits', () => {
    it('takes a frame of exactly maxFrameLength characters', () => {
      const json = JSON.stringify({ id: 'x'.repeat(40) });
      const { frames, parser: frameParser } = parser(json.length);
      frameParser.push(Buffer.from(`${json.length}#${json}`));
      expect(frames).toEqual([json]);
    });

    it('throws as soon as a length prefix over maxFrameLength is read, before the frame arrives', () => {
      const { frames, parser: frameParser } = parser(100);
      const error = pushError(frameParser, '101#{"id"');
      expect(error).toBeInstanceOf(FrameError);
      expect(error).toMatchObject({
        name: 'FrameError',
        message: 'a frame of 101 characters is over the limit of 100 (maxBufferSize)',
      });
      expect(frames).toEqual([]);
    });

    it('throws for the longest prefix (10 digits) when it is over the limit', () => {
      const error = pushError(parser(65_536).parser, '9999999999#');
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toMatch(/over the limit of 65536/);
    });

    it('lets a frame over the limit through none of its JSON, even after whole frames in the chunk', () => {
      const { frames, parser: frameParser } = parser(20);
      expect(pushError(frameParser, `${frameOf({ id: '1' })}50#{"id":"2"`)).toBeInstanceOf(
        FrameError,
      );
      expect(frames).toEqual(['{"id":"1"}']);
    });
  });

  describe('corrupt length prefixes', () => {
    it.each<[string, string]>([
      ['an empty prefix', '#{}'],
      ['letters', 'ab#{}'],
      ['a negative length', '-1#{}'],
      ['a decimal point', '1.5#{}'],
      ['a space', ' 2#{}'],
      ['a plus sign', '+2#{}'],
      ['11 digits', '12345678901#{}'],
    ])('throws a FrameError for %s', (_case, chunk) => {
      const { frames, parser: frameParser } = parser();
      const error = pushError(frameParser, chunk);
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toMatch(/^corrupt frame length "/);
      expect(frames).toEqual([]);
    });

    it('throws for a corrupt prefix after a whole frame', () => {
      const { frames, parser: frameParser } = parser();
      expect(pushError(frameParser, `${frameOf({ id: '1' })}x#{}`)).toBeInstanceOf(FrameError);
      expect(frames).toEqual(['{"id":"1"}']);
    });

    it('keeps the message of a long corrupt prefix short', () => {
      const error = pushError(parser().parser, `${'y'.repeat(5_000)}#{}`);
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message.length).toBeLessThan(60);
    });

    it('throws once more than 10 characters came without a "#" (not Nest framing)', () => {
      const { parser: frameParser } = parser();
      frameParser.push(Buffer.from('1234567890')); // could still be a 10-digit prefix
      const error = pushError(frameParser, '1');
      expect(error).toBeInstanceOf(FrameError);
      expect((error as Error).message).toBe('a frame must start with its length and "#"');
    });

    it('throws for text of another protocol (an HTTP response) in one chunk', () => {
      const error = pushError(parser().parser, 'HTTP/1.1 400 Bad Request\r\n\r\n');
      expect(error).toBeInstanceOf(FrameError);
    });

    it('throws for bytes without a "#" after a whole frame', () => {
      const { frames, parser: frameParser } = parser();
      expect(pushError(frameParser, `${frameOf({ id: '1' })}garbage bytes!`)).toBeInstanceOf(
        FrameError,
      );
      expect(frames).toEqual(['{"id":"1"}']);
    });
  });

  it('lets an error of the frame handler through, keeping nothing of that frame', () => {
    const seen: string[] = [];
    const frameParser = new FrameParser(1_000, (json) => {
      seen.push(json);
      if (json === '{"id":"bad"}') {
        throw new SyntaxError('not a reply');
      }
    });
    expect(pushError(frameParser, frameOf({ id: 'bad' }))).toBeInstanceOf(SyntaxError);
    // What comes next is read afresh: the failed frame is not handed on again.
    frameParser.push(Buffer.from(frameOf({ id: 'next' })));
    expect(seen).toEqual(['{"id":"bad"}', '{"id":"next"}']);
  });
});
