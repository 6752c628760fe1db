import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import {
  CheckpointFormatError,
  LeaderEpochCache,
  ensurePartitionMetadata,
  formatTopicId,
  parseTopicId,
  readLeaderEpochs,
  readOffsetCheckpoint,
  writeLeaderEpochs,
  writeOffsetCheckpoint,
} from '../../src/storage/checkpoints.js';
import { nodeFileSystem, type FileSystem } from '../../src/storage/file-system.js';
import { logConfigFromProperties, resolveLogConfig } from '../../src/storage/limits.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeValueBatch, temporaryDirectory } from './helpers.js';

const directory = temporaryDirectory();
after(() => directory.remove());

test("offset checkpoints use Kafka's text format and reject malformed files", async () => {
  await writeOffsetCheckpoint(
    nodeFileSystem,
    directory.path,
    'recovery-point-offset-checkpoint',
    { topic: 'a.b', partition: 7 },
    123456789012,
  );
  assert.equal(
    readFileSync(`${directory.path}/recovery-point-offset-checkpoint`, 'utf8'),
    '0\n1\na.b 7 123456789012\n',
  );
  assert.equal(
    await readOffsetCheckpoint(nodeFileSystem, directory.path, 'recovery-point-offset-checkpoint'),
    123456789012,
  );
  assert.equal(await readOffsetCheckpoint(nodeFileSystem, directory.path, 'absent'), null);
  for (const bad of ['1\n1\na 0 5\n', '0\n2\na 0 5\n', '0\n1\na 0 -5\n', '0\n1\na 0 x\n', '']) {
    writeFileSync(`${directory.path}/bad`, bad);
    await assert.rejects(
      readOffsetCheckpoint(nodeFileSystem, directory.path, 'bad'),
      CheckpointFormatError,
      JSON.stringify(bad),
    );
  }
});

test('leader-epoch checkpoint: "epoch startOffset" lines; the cache truncates from both ends', async () => {
  const cache = new LeaderEpochCache([]);
  assert.ok(cache.assign(0, 0));
  assert.ok(!cache.assign(0, 50), 'same epoch again changes nothing');
  assert.ok(cache.assign(2, 100));
  assert.ok(cache.assign(3, 180));
  await writeLeaderEpochs(nodeFileSystem, directory.path, cache.list());
  assert.equal(readFileSync(`${directory.path}/leader-epoch-checkpoint`, 'utf8'), '0\n3\n0 0\n2 100\n3 180\n');
  assert.deepEqual(await readLeaderEpochs(nodeFileSystem, directory.path), [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 100 },
    { epoch: 3, startOffset: 180 },
  ]);
  cache.truncateFromEnd(150);
  assert.deepEqual(cache.list(), [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 100 },
  ]);
  cache.truncateFromStart(120);
  assert.deepEqual(cache.list(), [{ epoch: 2, startOffset: 120 }]);
});

test('partition.metadata holds the topic id as URL-safe base64 and never changes', async () => {
  const id = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');
  assert.deepEqual(parseTopicId(formatTopicId(id)), id);
  const partition = `${directory.path}/t-0`;
  await nodeFileSystem.mkdir(partition);
  assert.equal(await ensurePartitionMetadata(nodeFileSystem, partition, undefined), null);
  await ensurePartitionMetadata(nodeFileSystem, partition, id);
  assert.equal(
    readFileSync(`${partition}/partition.metadata`, 'utf8'),
    `version: 0\ntopic_id: ${id.toString('base64url')}\n`,
  );
  assert.deepEqual(await ensurePartitionMetadata(nodeFileSystem, partition, undefined), id);
  await assert.rejects(ensurePartitionMetadata(nodeFileSystem, partition, Buffer.alloc(16)), {
    code: 'INCONSISTENT_TOPIC_ID',
  });
});

test('limits: Kafka-named properties are read and checked', () => {
  const partial = logConfigFromProperties({
    'segment.bytes': '1048576',
    'log.retention.ms': '-1',
    'cleanup.policy': 'compact,delete',
    'log.flush.policy': 'interval:200',
  });
  assert.deepEqual(partial, {
    segmentBytes: 1048576,
    retentionMs: -1,
    cleanupPolicy: { compact: true, delete: true },
    flushPolicy: { kind: 'interval', intervalMs: 200 },
  });
  const config = resolveLogConfig(partial);
  assert.equal(config.indexIntervalBytes, 4096);
  assert.equal(config.maxMessageBytes, 1048588);
  assert.throws(() => resolveLogConfig({ segmentBytes: 10 }), { code: 'INVALID_CONFIG' });
  assert.throws(() => logConfigFromProperties({ 'cleanup.policy': 'shred' }), { code: 'INVALID_CONFIG' });
  assert.throws(() => logConfigFromProperties({ 'retention.ms': 'soon' }), { code: 'INVALID_CONFIG' });
});

test('a running log writes checkpoints off the event loop: temp file, fsync, rename, fsync directory', async () => {
  const calls: string[] = [];
  const recording = Object.fromEntries(
    Object.entries(nodeFileSystem).map(([name, operation]) => [
      name,
      (...args: unknown[]) => {
        const path = typeof args[0] === 'string' ? args[0].slice(args[0].lastIndexOf('/') + 1) : '';
        calls.push(path === '' ? name : `${name} ${path}`);
        return (operation as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FileSystem;
  const partition = temporaryDirectory();
  try {
    const log = await PartitionLog.open({
      directory: `${partition.path}/c-0`,
      topic: 'c',
      partition: 0,
      fileSystem: recording,
      logger: new MemoryLogger(),
    });
    await log.append(makeValueBatch(3, 10));
    calls.length = 0;
    let loopTurned = false;
    setImmediate(() => (loopTurned = true));
    await log.checkpoint();
    assert.ok(loopTurned, 'the checkpoint waited for the disk without holding the event loop');
    const written = calls.filter((call) => !call.startsWith('fstat') && !call.startsWith('writeAll'));
    const at = written.indexOf('open recovery-point-offset-checkpoint.tmp');
    assert.ok(at >= 0, `the recovery point was written: ${calls.join(', ')}`);
    assert.deepEqual(written.slice(at, at + 5), [
      'open recovery-point-offset-checkpoint.tmp',
      'fsync',
      'close',
      'rename recovery-point-offset-checkpoint.tmp',
      'syncDirectory c-0',
    ]);
    await log.close();
    assert.equal(readFileSync(`${partition.path}/c-0/recovery-point-offset-checkpoint`, 'utf8'), '0\n1\nc 0 3\n');
  } finally {
    partition.remove();
  }
});
