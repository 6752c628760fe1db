// The producer's incremental batch encoder must write the same bytes as the reference encoder
// (record-encoder.ts), record for record, whatever the keys, values, headers and timestamps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RecordBatchBuilder, type HeaderEntry } from '../../src/client/record-batch-builder.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { decodeRecordBatchSync } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync, type RecordToEncode } from '../../src/protocol/record-batch/record-encoder.js';

interface Message {
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderEntry[] | undefined;
  timestamp: number;
}

function toRecord(message: Message): RecordToEncode {
  return {
    key: message.key,
    value: message.value,
    timestamp: message.timestamp,
    headers: (message.headers ?? []).map(([key, value]) => ({
      key,
      value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
    })),
  };
}

function randomMessages(seed: number, count: number): Message[] {
  let state = seed;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const base = 1_700_000_000_000;
  return Array.from({ length: count }, () => ({
    key: next(4) === 0 ? null : randomBytes(next(300)),
    value: next(8) === 0 ? null : randomBytes(next(3) === 0 ? 20_000 : next(200)),
    headers:
      next(3) === 0
        ? undefined
        : Array.from(
            { length: next(4) },
            (_, h) =>
              [
                `h${h}-é`,
                next(3) === 0 ? null : next(2) === 0 ? 'välue'.repeat(next(50)) : randomBytes(next(100)),
              ] as HeaderEntry,
          ),
    // Out of order and far apart: negative deltas and deltas past the int32 varint range.
    timestamp: base + (next(5) === 0 ? -next(2 ** 31) * 4 : next(10_000)),
  }));
}

const fields = { producerId: 4242, producerEpoch: 3, baseSequence: 17, transactional: true };

test('the builder writes what encodeRecordBatch writes, uncompressed', async () => {
  for (const seed of [1, 2, 3, 4, 5, Date.now() >>> 0]) {
    const messages = randomMessages(seed, 1 + (seed % 300));
    // A reused buffer holds an earlier batch's bytes: fill it with garbage to check nothing stale is left.
    const builder = new RecordBatchBuilder(Buffer.alloc(256, 0xa5), 100_000);
    for (const m of messages) builder.append(m.key, m.value, m.headers, m.timestamp);
    builder.trim();
    const built = await builder.finish({ ...fields, compression: Compression.None });
    const reference = encodeRecordBatchSync({
      records: messages.map(toRecord),
      ...fields,
      compression: Compression.None,
    });
    assert.ok(built.equals(reference), `seed ${seed}`);
    // Finishing again with another sequence rewrites the header only.
    const renumbered = await builder.finish({ ...fields, baseSequence: 99, compression: Compression.None });
    assert.ok(
      renumbered.equals(encodeRecordBatchSync({ records: messages.map(toRecord), ...fields, baseSequence: 99 })),
      `seed ${seed}`,
    );
  }
});

test('compressed batches decode to the same records', async () => {
  const messages = randomMessages(7, 120);
  for (const compression of [Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
    const builder = new RecordBatchBuilder(Buffer.allocUnsafe(100), 4096);
    for (const m of messages) builder.append(m.key, m.value, m.headers, m.timestamp);
    const decoded = decodeRecordBatchSync(await builder.finish({ ...fields, compression }));
    const reference = decodeRecordBatchSync(
      encodeRecordBatchSync({ records: messages.map(toRecord), ...fields, compression }),
    );
    assert.equal(decoded.compression, compression);
    assert.equal(decoded.baseSequence, 17);
    assert.equal(decoded.isTransactional, true);
    assert.deepEqual(decoded.records, reference.records);
  }
});
