import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/runtime/clock.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeBatch, makeValueBatch, temporaryDirectory } from './helpers.js';

const directories: { remove: () => void }[] = [];
after(() => directories.forEach((directory) => directory.remove()));

test('the log manager reopens every partition of a data directory and runs retention and compaction', async () => {
  const data = temporaryDirectory();
  directories.push(data);
  const clock = new ManualClock(0);
  const options = {
    dataDirectory: data.path,
    clock,
    logger: new MemoryLogger(),
    defaults: { segmentBytes: 400, retentionMs: 1000, fileDeleteDelayMs: 0 },
    configFor: (topic: string) => (topic === 'compacted' ? { cleanupPolicy: { compact: true, delete: false } } : {}),
  };
  const manager = await LogManager.open(options);
  for (let partition = 0; partition < 3; partition += 1) {
    const log = await manager.getOrCreate('orders', partition, Buffer.alloc(16, partition));
    for (let index = 0; index < 6; index += 1)
      await log.append(makeValueBatch(1, 100, index, { baseTimestamp: 0, maxTimestamp: 0 }));
  }
  const compacted = await manager.getOrCreate('compacted', 0);
  for (let index = 0; index < 12; index += 1)
    await compacted.append(
      makeBatch([{ key: Buffer.from('same'), value: Buffer.from(`v${index}`) }], { baseTimestamp: 0 }),
    );
  await manager.close();

  const reopened = await LogManager.open(options);
  assert.equal(reopened.all().length, 4);
  assert.equal(reopened.get('orders', 2)!.logEndOffset, 6);
  const compactedSize = reopened.get('compacted', 0)!.sizeBytes;
  clock.set(5000);
  await reopened.runBackgroundOnce();
  assert.ok(reopened.get('orders', 0)!.logStartOffset > 0, 'retention ran');
  assert.ok(reopened.get('compacted', 0)!.sizeBytes < compactedSize, 'compaction ran');
  assert.equal(reopened.get('compacted', 0)!.logStartOffset, 0, 'compact-only topics are not trimmed by retention');
  await reopened.delete('orders', 1);
  assert.ok(!existsSync(`${data.path}/orders-1`));
  await reopened.close();
});

test('a partition that cannot be opened is reported offline; the others open', async () => {
  const data = temporaryDirectory();
  directories.push(data);
  const logger = new MemoryLogger();
  const manager = await LogManager.open({ dataDirectory: data.path, logger });
  await (await manager.getOrCreate('good', 0)).append(makeValueBatch(1, 10));
  await manager.getOrCreate('bad', 0, Buffer.alloc(16, 1));
  await manager.close();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${data.path}/bad-0/partition.metadata`, 'version: 7\n');
  const reopened = await LogManager.open({ dataDirectory: data.path, logger });
  assert.equal(reopened.get('good', 0)!.logEndOffset, 1);
  assert.ok(reopened.offline.has('bad-0'));
  assert.equal(logger.events('partition-offline').length, 1);
  await reopened.close();
});
