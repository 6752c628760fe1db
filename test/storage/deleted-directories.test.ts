// Deleted partition directories: Kafka's `<topic>-<partition>.<uuid>-delete` names (never taken for a
// partition directory), a deleted log that never touches its old path again, and removal in the
// background that a close cancels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DeletedDirectoryRemover,
  deletedPartitionDirectoryName,
  isDeletedPartitionDirectoryName,
} from '../../src/storage/deleted-directories.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { parsePartitionDirectoryName } from '../../src/storage/segment-files.js';
import { makeValueBatch, partitionDirectories, temporaryDirectory } from './helpers.js';
import { Random, seedFromEnvironment } from '../support/random.js';

const tempDir = partitionDirectories('doomed-0');

test('-delete names: at most 255 bytes, recognised, never parsed as a partition directory', () => {
  const seed = seedFromEnvironment();
  const random = new Random(seed);
  const legal = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';
  for (let round = 0; round < 2000; round++) {
    const length = round < 10 ? 249 - round : random.int(1, 249);
    const topic = Array.from({ length }, () => legal[random.int(0, legal.length - 1)]).join('');
    const partition = random.pick([0, 1, 9, 10, 9999, random.int(0, 9999)]);
    const name = deletedPartitionDirectoryName(topic, partition);
    const where = `seed ${seed}: ${name}`;
    assert.ok(name.length <= 255, where);
    assert.match(name, new RegExp(`-${partition}\\.[0-9a-f]{32}-delete$`), where);
    assert.ok(topic.startsWith(name.slice(0, name.length - `-${partition}.`.length - 32 - 7)), where);
    assert.ok(isDeletedPartitionDirectoryName(name), where);
    assert.equal(parsePartitionDirectoryName(name), null, where);
  }
  assert.notEqual(deletedPartitionDirectoryName('t', 0), deletedPartitionDirectoryName('t', 0), 'a random uuid each');
  for (const name of ['orders-0', 'orders-delete', 'orders-0.delete', 'x-1.abc-deleted', 'topics.json'])
    assert.ok(!isDeletedPartitionDirectoryName(name), name);
});

test('a deleted log never touches its old path again: a new log there keeps its files', async () => {
  const directory = tempDir();
  const clock = new ManualClock(0);
  const options = {
    directory,
    topic: 'doomed',
    partition: 0,
    clock,
    logger: new MemoryLogger(),
    // Retention removes segments 200 ms after renaming them `.deleted`: that timer must not reach the new log.
    config: { segmentBytes: 500, retentionMs: 1000, fileDeleteDelayMs: 200 },
  };
  const old = await PartitionLog.open({ ...options, topicId: Buffer.alloc(16, 1) });
  for (let index = 0; index < 12; index += 1) {
    clock.set(index * 100);
    await old.append(makeValueBatch(1, 150, index, { baseTimestamp: index * 100, maxTimestamp: index * 100 }));
  }
  clock.set(1650);
  assert.ok((await old.applyRetention()) > 0);
  const renamed = await old.delete();
  assert.ok(!existsSync(directory));
  assert.equal(dirname(renamed), dirname(directory));
  assert.ok(isDeletedPartitionDirectoryName(renamed.slice(dirname(renamed).length + 1)));
  assert.ok(
    readdirSync(renamed).some((name) => name.endsWith('.log')),
    'the data went with the directory',
  );

  // The same partition again, at once, with its own (same-named) segment files.
  const fresh = await PartitionLog.open({ ...options, topicId: Buffer.alloc(16, 2) });
  for (let index = 0; index < 12; index += 1)
    await fresh.append(makeValueBatch(1, 150, index, { baseTimestamp: 1650, maxTimestamp: 1650 }));
  await fresh.flush();
  // What the old log's pending removals would unlink, were they to run against the old path.
  const bait = readdirSync(directory)
    .filter((name) => name.endsWith('.log') || name.endsWith('.index') || name.endsWith('.timeindex'))
    .map((name) => `${name}.deleted`);
  for (const name of bait) writeFileSync(join(directory, name), 'bait');
  await new Promise((resolve) => setTimeout(resolve, 400));
  for (const name of bait) assert.ok(existsSync(join(directory, name)), `the old log left ${name} alone`);
  assert.equal(fresh.logStartOffset, 0);
  assert.equal(fresh.logEndOffset, 12);
  await fresh.close();
});

test('the remover removes after the delay; close cancels what has not started; leftovers are found', async () => {
  const data = temporaryDirectory();
  try {
    const make = (name: string) => {
      mkdirSync(join(data.path, name));
      writeFileSync(join(data.path, name, '00000000000000000000.log'), 'x');
      return join(data.path, name);
    };
    const logger = new MemoryLogger();
    const remover = new DeletedDirectoryRemover({ logger });
    const soon = make(deletedPartitionDirectoryName('a', 0));
    const late = make(deletedPartitionDirectoryName('b', 1));
    remover.removeLater(soon, 10);
    remover.removeLater(late, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(!existsSync(soon));
    assert.ok(existsSync(late));
    await remover.close();
    assert.ok(existsSync(late), 'cancelled: the next start removes it');
    make('kept-0'); // a partition directory is not a leftover

    const next = new DeletedDirectoryRemover({ logger });
    assert.equal(await next.removeLeftovers(data.path), 1);
    await next.idle();
    assert.deepEqual(readdirSync(data.path), ['kept-0']);
    assert.equal(logger.events('deleted-directory-removed').length, 2);
  } finally {
    data.remove();
  }
});
