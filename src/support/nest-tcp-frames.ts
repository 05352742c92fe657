/**
 * Nest's TCP framing, `<length>#<json>` with the length in UTF-16 code units (see the README's
 * "Wire format"), for peers written without Nest: the benchmark's load processes and raw floor,
 * and the tests' raw clients.
 */
export function encodeFrame(message: unknown): string {
  const json = JSON.stringify(message);
  return `${json.length}#${json}`;
}

/** Splits a stream of frames (decoded as UTF-8 strings) into parsed messages; a corrupt frame throws. */
export class FrameReader {
  private buffer = '';

  push(chunk: string): unknown[] {
    // Most chunks hold whole frames: no copy of a buffer, one slice per frame.
    const text = this.buffer.length === 0 ? chunk : this.buffer + chunk;
    const messages: unknown[] = [];
    let start = 0;
    for (;;) {
      const hash = text.indexOf('#', start);
      if (hash < 0) {
        break;
      }
      const length = Number(text.slice(start, hash));
      if (hash === start || !Number.isInteger(length) || length < 0) {
        throw new Error(`corrupt frame length "${text.slice(start, hash)}"`);
      }
      const end = hash + 1 + length;
      if (text.length < end) {
        break;
      }
      messages.push(JSON.parse(text.slice(hash + 1, end)));
      start = end;
    }
    this.buffer = start === 0 ? text : text.slice(start);
    return messages;
  }
}
