import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { BridgeError, isBridgeError } from '../../src/errors.ts';
import { createDecoder, type SchemaLookup } from '../../src/kafka/decoder.ts';
import { loadSchemaVersions, newestSchema } from '../../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../../src/transform/sample-events.ts';

const frame = (id: number, payload: Buffer) => {
  const out = Buffer.alloc(5 + payload.length);
  out.writeInt32BE(id, 1);
  payload.copy(out, 5);
  return out;
};

function lookupOf(types: Record<number, avro.Type>, calls: number[] = []): SchemaLookup {
  return {
    async writerType(id) {
      calls.push(id);
      const type = types[id];
      if (type === undefined) throw new BridgeError('UNKNOWN_SCHEMA_ID', `no schema ${id}`);
      return type;
    },
  };
}

describe('decoder (registry stubbed)', () => {
  it('reads every writer version in schemas/ through the newest reader schema, looking each id up once', async () => {
    const versions = loadSchemaVersions();
    const calls: number[] = [];
    const types = Object.fromEntries(versions.map((version) => [version.version, version.type]));
    const decoder = createDecoder({
      lookup: lookupOf(types, calls),
      reader: newestSchema().type,
      maxRecordBytes: 1 << 20,
    });
    for (const version of versions) {
      for (let seq = 0; seq < 3; seq++) {
        const event = makeSampleEvent(seq, Math.random);
        // Older writers do not know newer fields; avsc drops unknown ones when encoding a record.
        const result = await decoder.decode(
          frame(version.version, version.type.toBuffer(version.type.clone(event, { wrapUnions: false }))),
        );
        expect(result.ok, version.file).toBe(true);
        if (result.ok) expect(result.event.eventId).toBe(event.eventId);
      }
    }
    expect(calls).toEqual(versions.map((version) => version.version));
  });

  it('sorts poison by reason, and passes REGISTRY_UNAVAILABLE through as a rejection', async () => {
    const incompatible = avro.Type.forSchema({
      type: 'record',
      name: 'io.gongbridge.InteractionEvent',
      fields: [{ name: 'eventId', type: 'int' }],
    });
    const decoder = createDecoder({
      lookup: {
        async writerType(id) {
          if (id === 1) return newestSchema().type;
          if (id === 2) return incompatible;
          if (id === 3) throw new BridgeError('REGISTRY_UNAVAILABLE', 'down');
          throw new BridgeError('UNKNOWN_SCHEMA_ID', 'unknown');
        },
      },
      reader: newestSchema().type,
      maxRecordBytes: 64,
    });
    const code = async (value: Buffer | null) => {
      const result = await decoder.decode(value);
      return result.ok ? 'ok' : result.error.code;
    };
    expect(await code(null)).toBe('NOT_CONFLUENT_FRAMED');
    expect(await code(Buffer.from([1, 0, 0, 0, 1, 2]))).toBe('NOT_CONFLUENT_FRAMED');
    expect(await code(Buffer.from([0, 0, 0]))).toBe('NOT_CONFLUENT_FRAMED');
    expect(await code(frame(9, Buffer.from([2])))).toBe('UNKNOWN_SCHEMA_ID');
    expect(await code(frame(2, Buffer.from([2])))).toBe('SCHEMA_INCOMPATIBLE');
    expect(await code(frame(1, Buffer.from([0xff, 0xff, 0xff])))).toBe('AVRO_DECODE_FAILED');
    expect(await code(frame(1, Buffer.alloc(100)))).toBe('RECORD_TOO_LARGE');
    const failure = await decoder.decode(frame(3, Buffer.from([2]))).catch((error: unknown) => error);
    expect(isBridgeError(failure) && failure.code).toBe('REGISTRY_UNAVAILABLE');
  });
});
