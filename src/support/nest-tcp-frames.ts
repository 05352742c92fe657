/**
 * Nest's TCP framing, `<length>#<json>` with the length in UTF-16 code units (see the README's
 * "Wire format"), for peers written without Nest: the benchmark's load processes and the tests'
 * raw clients.
 */
export function encodeFrame(message: unknown): string {
  const json = JSON.stringify(message);
  return `${json.length}#${json}`;
}

/** Splits a stream of frames into parsed messages; a corrupt frame throws. */
export class FrameReader {
  private buffer = '';

  push(chunk: string): unknown[] {
    this.buffer += chunk;
    const messages: unknown[] = [];
    for (;;) {
      const hash = this.buffer.indexOf('#');
      if (hash < 0) {
        break;
      }
      const length = Number(this.buffer.slice(0, hash));
      if (!Number.isInteger(length) || length < 0) {
        throw new Error(`corrupt frame length "${this.buffer.slice(0, hash)}"`);
      }
      const end = hash + 1 + length;
      if (this.buffer.length < end) {
        break;
      }
      messages.push(JSON.parse(this.buffer.slice(hash + 1, end)));
      this.buffer = this.buffer.slice(end);
    }
    return messages;
  }
}
