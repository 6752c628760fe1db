// A leader's view of its followers (src/cluster/leader-replication.ts): the high watermark is the
// minimum the in-sync replicas hold, and an in-sync follower that asks from below it — restarted on a
// log cut short, as the fault bed's truncated restart does — is proposed out of the ISR at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/broker/logger.js';
import { PartitionHooks } from '../../src/broker/partition/hooks.js';
import { PartitionSet } from '../../src/broker/partition-set.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS } from '../../src/broker/producer-state.js';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { resolveLogConfig } from '../../src/storage/limits.js';
import { MemoryLogger as StorageMemoryLogger } from '../../src/storage/logger.js';

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-leader-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('an in-sync follower fetching below the high watermark leaves the ISR at once', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const set = new PartitionSet(dataDir, new StorageMemoryLogger(), {
    producerIdExpirationMs: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    logger: new MemoryLogger(),
    clock,
    hooks: new PartitionHooks(),
  });
  await set.open('t', Buffer.alloc(16, 1), 0, 1, resolveLogConfig({}));
  const partition = set.get('t', 0)!;
  const proposals: number[][] = [];
  const leader = new LeaderReplication(
    partition,
    1,
    0,
    { replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2, 3] },
    { propose: (_topic, _partition, _epoch, isr) => void proposals.push(isr) },
    clock.now(),
  );
  for (let i = 0; i < 3; i++) await partition.append(encodeRecordBatchSync({ records: [{ value: Buffer.from('v') }] }));
  assert.equal(partition.highWatermark, 0, 'not committed before the followers have it');
  leader.followerFetched(2, 3, clock.now());
  leader.followerFetched(3, 3, clock.now());
  assert.equal(partition.highWatermark, 3, 'committed once every in-sync replica has it');
  assert.deepEqual(proposals, []);

  // Follower 3 comes back with its log cut to one record: it no longer holds what was committed.
  leader.followerFetched(3, 1, clock.now());
  assert.deepEqual(proposals, [[1, 2]], 'proposed out of the ISR without waiting for the lag time');
  assert.equal(partition.highWatermark, 3, 'the high watermark never moves back');

  // Once out of the ISR, a follower behind is just a follower catching up: nothing more is proposed.
  leader.update({ replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2] });
  leader.followerFetched(3, 2, clock.now());
  assert.deepEqual(proposals, [[1, 2]]);
  leader.followerFetched(3, 3, clock.now());
  assert.deepEqual(
    proposals,
    [
      [1, 2],
      [1, 2, 3],
    ],
    'back in once it holds the high watermark again',
  );
  await set.closeAll();
});
