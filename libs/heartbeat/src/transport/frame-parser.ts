import { StringDecoder } from 'node:string_decoder';

/** A stream of bytes that is not Nest TCP framing, or a frame over the limit. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Digits of the longest length prefix a frame under Node's string limit can need. */
const MAX_PREFIX_DIGITS = 10;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/**
 * Splits a byte stream into Nest TCP frames (`<length>#<json>`, the length in UTF-16 code units of
 * the UTF-8-decoded text), holding at most one frame of `maxFrameLength` characters: a longer
 * frame, or a length prefix that is not 1 to 10 digits, throws a {@link FrameError}. Bytes of a
 * character split between chunks wait for the rest (a `StringDecoder`).
 */
export class FrameParser {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  /** Length the buffer needs to hold the frame begun in it (0: not known yet). */
  private awaited = 0;

  constructor(
    private readonly maxFrameLength: number,
    private readonly onFrame: (json: string) => void,
  ) {}

  /** Takes the next chunk and hands each frame it completes to `onFrame`, in order. */
  push(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    const data = this.buffer.length === 0 ? text : this.buffer + text;
    if (data.length < this.awaited) {
      this.buffer = data; // a frame that trickles in is not searched and parsed again per chunk
      return;
    }
    this.awaited = 0;
    let offset = 0;
    while (offset < data.length) {
      const hash = data.indexOf('#', offset);
      if (hash < 0) {
        if (data.length - offset > MAX_PREFIX_DIGITS) {
          throw new FrameError(`a frame must start with its length and "#"`);
        }
        break;
      }
      const length = this.lengthPrefix(data, offset, hash);
      const end = hash + 1 + length;
      if (end > data.length) {
        this.awaited = end - offset;
        break;
      }
      // A frame handler may throw (the connection is then dropped): nothing of it stays buffered.
      this.buffer = '';
      this.onFrame(data.slice(hash + 1, end));
      offset = end;
    }
    this.buffer = offset === 0 ? data : data.slice(offset);
  }

  private lengthPrefix(data: string, start: number, hash: number): number {
    if (hash === start || hash - start > MAX_PREFIX_DIGITS) {
      throw new FrameError(
        `corrupt frame length ${JSON.stringify(data.slice(start, hash).slice(0, 20))}`,
      );
    }
    let length = 0;
    for (let index = start; index < hash; index += 1) {
      const code = data.charCodeAt(index);
      if (code < DIGIT_0 || code > DIGIT_9) {
        throw new FrameError(`corrupt frame length ${JSON.stringify(data.slice(start, hash))}`);
      }
      length = length * 10 + (code - DIGIT_0);
    }
    if (length > this.maxFrameLength) {
      throw new FrameError(
        `a frame of ${length} characters is over the limit of ${this.maxFrameLength} (maxBufferSize)`,
      );
    }
    return length;
  }
}
