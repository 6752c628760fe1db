// Reads a partition over the wire with Fetch v11 and decodes its batches with our record codec:
// a client-independent way for tests to see exactly what the broker serves.
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { RawClient } from './raw-client.js';

export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Records from `offset` until `count` are read or the partition has no more (within 100 ms). */
export async function readPartition(
  port: number,
  topic: string,
  partition: number,
  offset = 0,
  count = Infinity,
): Promise<ReadRecord[]> {
  const client = await RawClient.connect(port);
  const out: ReadRecord[] = [];
  let next = offset;
  try {
    for (let round = 0; out.length < count && round < 10_000; round++) {
      client.request(ApiKey.Fetch, 11, round, {
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 10485760,
        isolationLevel: 1,
        topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(next), partitionMaxBytes: 1048576 }] }],
      });
      const frames = await client.waitForFrames(round + 1);
      const p = RawClient.decode(ApiKey.Fetch, 11, frames[round]!).body.responses[0].partitions[0];
      assert.equal(p.errorCode, 0, `fetch ${topic}-${partition} at ${next}`);
      const batches = await decodeRecordBatches(p.records);
      if (batches.length === 0) break;
      for (const batch of batches) {
        for (const record of batch.records) {
          if (record.offset < next) continue;
          out.push({
            offset: record.offset,
            key: record.key?.toString() ?? null,
            value: record.value?.toString() ?? null,
            headers: Object.fromEntries(record.headers.map((h) => [h.key, h.value?.toString() ?? ''])),
          });
          next = record.offset + 1;
        }
      }
    }
  } finally {
    client.close();
  }
  return out.slice(0, count);
}
