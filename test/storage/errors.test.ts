// Disk errors turn one partition read-only; others go on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError, isDiskError } from '../../src/storage/errors.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { failingFileSystem, makeValueBatch, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories();

for (const [code, operations] of [
  ['EIO', ['writeAll']],
  ['ENOSPC', ['writeAll']],
  ['EIO', ['fdatasync']],
  ['EROFS', ['open', 'writeAll']],
] as const) {
  test(`${code} in ${operations.join('+')} makes only that partition read-only`, async () => {
    const failing = failingFileSystem(code);
    const logger = new MemoryLogger();
    const broken = await PartitionLog.open({
      directory: tempDir('broken-0'),
      topic: 'broken',
      partition: 0,
      fileSystem: failing.fileSystem,
      config: { segmentBytes: 400 },
      logger,
    });
    const healthy = await PartitionLog.open({
      directory: tempDir('healthy-0'),
      topic: 'healthy',
      partition: 0,
      logger: new MemoryLogger(),
    });
    await broken.append(makeValueBatch(1, 50));
    failing.arm([...operations]);
    const results = await Promise.allSettled([1, 2, 3].map((seed) => broken.append(makeValueBatch(1, 50, seed))));
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result as PromiseRejectedResult).reason.code, 'KAFKA_STORAGE_ERROR');
      assert.equal((result as PromiseRejectedResult).reason.kafkaCode, 56);
    }
    assert.ok(broken.readOnly instanceof StorageError);
    const logged = logger.events('partition-read-only');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.code, code);
    failing.disarm();
    await assert.rejects(
      broken.append(makeValueBatch(1, 50)),
      (error: StorageError) => error.code === 'KAFKA_STORAGE_ERROR',
    );
    // What was durable before the failure can still be read.
    assert.equal((await broken.read(0, 1000, { maxOffset: broken.flushedOffset })).nextOffset, 1);
    assert.deepEqual(await healthy.append(makeValueBatch(1, 50)), { baseOffset: 0, lastOffset: 0 });
    await broken.close();
    await healthy.close();
  });
}

test('isDiskError recognises the errno codes that mean the disk failed', () => {
  for (const code of ['EIO', 'ENOSPC', 'EROFS']) assert.ok(isDiskError(Object.assign(new Error(code), { code })));
  assert.ok(!isDiskError(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })));
});
