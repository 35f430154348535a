/**
 * The Confluent wire format, the framing every registry-aware serializer writes (Avro, JSON Schema
 * and Protobuf alike): magic byte 0, the schema id as a 4-byte big-endian integer, then the
 * payload. Protobuf puts one more thing before its payload: the message indexes, the path from the
 * .proto file's top-level messages to the message written (one schema may define several). They
 * are zigzag varints, a count then the indexes, with `[0]` (the first top-level message, by far
 * the most common) shortened to the single byte 0.
 */

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface Frame {
  readonly schemaId: number;
  /** Everything after the 5-byte header (for Protobuf, the message indexes come first). */
  readonly payload: Buffer;
}

/** The frame, or undefined when the value does not start with magic byte 0 and a schema id. */
export function readFrame(value: Buffer): Frame | undefined {
  if (value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) return undefined;
  return { schemaId: value.readInt32BE(1), payload: value.subarray(HEADER_BYTES) };
}

/** The bytes a registry-aware producer writes; `messageIndexes` only for Protobuf. */
export function frameRecord(
  schemaId: number,
  payload: Uint8Array,
  messageIndexes?: readonly number[],
): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeInt32BE(schemaId, 1);
  const indexes = messageIndexes === undefined ? [] : [encodeMessageIndexes(messageIndexes)];
  return Buffer.concat([header, ...indexes, payload]);
}

export type MessageIndexes =
  | { readonly ok: true; readonly indexes: readonly number[]; readonly bytes: number }
  | { readonly ok: false; readonly message: string };

/** Longest index list read: a deeper nesting is garbage, not a schema anyone wrote. */
const MAX_INDEXES = 100;

/** Reads the message indexes at the start of a Protobuf payload. */
export function readMessageIndexes(payload: Buffer): MessageIndexes {
  let at = 0;
  const next = (): number | undefined => {
    const read = readZigzagVarint(payload, at);
    if (read === undefined) return undefined;
    at = read.next;
    return read.value;
  };
  const count = next();
  if (count === undefined) return { ok: false, message: 'the message indexes are cut short or not varints' };
  if (count === 0) return { ok: true, indexes: [0], bytes: at };
  if (count < 0 || count > MAX_INDEXES)
    return { ok: false, message: `the message-index count is ${count}, not 1..${MAX_INDEXES}` };
  const indexes: number[] = [];
  for (let index = 0; index < count; index++) {
    const value = next();
    if (value === undefined)
      return { ok: false, message: 'the message indexes are cut short or not varints' };
    if (value < 0) return { ok: false, message: `message index ${value} is negative` };
    indexes.push(value);
  }
  return { ok: true, indexes, bytes: at };
}

export function encodeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const bytes: number[] = [];
  for (const value of [indexes.length, ...indexes]) writeZigzagVarint(value, bytes);
  return Buffer.from(bytes);
}

/** A zigzag varint of at most 32 bits (5 bytes), as Confluent writes message indexes. */
function readZigzagVarint(buffer: Buffer, from: number): { value: number; next: number } | undefined {
  let raw = 0;
  for (let shift = 0, at = from; shift < 35; shift += 7, at++) {
    const byte = buffer[at];
    if (byte === undefined) return undefined;
    raw += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      if (raw > 0xffff_ffff) return undefined;
      // Zigzag: 0, -1, 1, -2, 2 ... are written 0, 1, 2, 3, 4 ...
      const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      return { value, next: at + 1 };
    }
  }
  return undefined;
}

function writeZigzagVarint(value: number, out: number[]): void {
  let raw = value >= 0 ? value * 2 : -value * 2 - 1;
  while (raw >= 0x80) {
    out.push((raw % 0x80) | 0x80);
    raw = Math.floor(raw / 0x80);
  }
  out.push(raw);
}

/**
 * What the bytes of a value look like, for a dead letter's message when they are not in the
 * topic's format: the producer's mistake is usually visible from the first bytes.
 */
export function describeValue(value: Buffer): string {
  const frame = readFrame(value);
  if (frame !== undefined) return `Confluent-framed (magic byte 0, schema id ${frame.schemaId})`;
  const text = value.subarray(0, 64).toString('utf8').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    return `JSON text (${JSON.stringify(shown)})`;
  }
  return `${value.length} bytes starting ${value.subarray(0, 8).toString('hex')}`;
}
