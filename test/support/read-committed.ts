// A read_committed Fetch (v11) of one partition from offset 0, with the aborted transactions applied
// the way a client applies them: from an aborted transaction's first offset up to its producer's next
// control batch, that producer's transactional records are dropped. Control batches are never shown.
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { RawClient } from './raw-client.js';

export interface CommittedRead {
  lastStableOffset: number;
  highWatermark: number;
  abortedTransactions: Array<{ producerId: number; firstOffset: number }>;
  /** Values of the data records a read_committed client keeps. */
  visible: string[];
}

export async function readCommitted(port: number, topic: string, partition = 0): Promise<CommittedRead> {
  const raw = await RawClient.connect(port);
  try {
    raw.request(ApiKey.Fetch, 11, 1, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10485760,
      isolationLevel: 1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1048576 }] }],
    });
    const [frame] = await raw.waitForFrames(1);
    const p = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
    assert.equal(p.errorCode, 0, `read_committed fetch of ${topic}-${partition}`);
    const aborted = (p.abortedTransactions as Array<{ producerId: bigint; firstOffset: bigint }>).map((a) => ({
      producerId: Number(a.producerId),
      firstOffset: Number(a.firstOffset),
    }));
    // Each aborted transaction starts dropping its producer's records once reached, and stops at that
    // producer's next control batch (its ABORT marker); it is used once.
    const pending = [...aborted].sort((x, y) => x.firstOffset - y.firstOffset);
    const dropping = new Set<number>();
    const visible: string[] = [];
    for (const batch of await decodeRecordBatches(p.records)) {
      while (pending.length > 0 && pending[0]!.firstOffset <= batch.baseOffset + batch.lastOffsetDelta)
        dropping.add(pending.shift()!.producerId);
      if (batch.isControl) {
        dropping.delete(batch.producerId);
        continue;
      }
      if (batch.isTransactional && dropping.has(batch.producerId)) continue;
      for (const record of batch.records) visible.push(record.value?.toString() ?? '');
    }
    return {
      lastStableOffset: Number(p.lastStableOffset),
      highWatermark: Number(p.highWatermark),
      abortedTransactions: aborted,
      visible,
    };
  } finally {
    raw.close();
  }
}
