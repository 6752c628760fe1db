// Flush policies and group commit, observed through a file system that counts (and can hold) fdatasync.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/storage/file-system.js';
import { parseFlushPolicy } from '../../src/storage/flush-policy.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeValueBatch, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories('p-0');

/** Counts fdatasync calls; while `held`, fdatasync waits until release(). */
function gatedFileSystem() {
  const state = { datasyncs: 0, held: false, waiting: [] as (() => void)[] };
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    async fdatasync(fd) {
      state.datasyncs += 1;
      if (state.held) await new Promise<void>((resolve) => state.waiting.push(resolve));
      return nodeFileSystem.fdatasync(fd);
    },
  };
  return {
    fileSystem,
    state,
    hold: () => (state.held = true),
    release: () => {
      state.held = false;
      state.waiting.splice(0).forEach((resolve) => resolve());
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('log.flush.policy parses sync, os and interval:<ms>', () => {
  assert.deepEqual(parseFlushPolicy('sync'), { kind: 'sync' });
  assert.deepEqual(parseFlushPolicy('os'), { kind: 'os' });
  assert.deepEqual(parseFlushPolicy('interval:250'), { kind: 'interval', intervalMs: 250 });
  assert.throws(() => parseFlushPolicy('interval:0'));
  assert.throws(() => parseFlushPolicy('always'));
});

test('sync: an append resolves only after fdatasync', async () => {
  const gate = gatedFileSystem();
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'p',
    partition: 0,
    fileSystem: gate.fileSystem,
    logger: new MemoryLogger(),
  });
  gate.hold();
  let done = false;
  const appended = log.append(makeValueBatch(1, 100)).then(() => (done = true));
  await tick();
  assert.equal(done, false, 'resolved before its fdatasync finished');
  assert.equal(log.flushedOffset, 0);
  const durable = await log.read(0, 1000, { maxOffset: log.flushedOffset });
  assert.equal(durable.records.length, 0, 'nothing is flushed yet: a reader of what is durable sees nothing');
  gate.release();
  await appended;
  assert.equal(log.flushedOffset, 1);
  await log.close();
});

test('sync: appends arriving during a flush share the next one (group commit)', async () => {
  const gate = gatedFileSystem();
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'p',
    partition: 0,
    fileSystem: gate.fileSystem,
    logger: new MemoryLogger(),
  });
  gate.hold();
  const first = log.append(makeValueBatch(1, 100));
  await tick(); // the first write is done, its fdatasync is held
  const before = gate.state.datasyncs;
  const rest = Array.from({ length: 200 }, (_, index) => log.append(makeValueBatch(1, 100, index)));
  await tick();
  gate.release();
  await Promise.all([first, ...rest]);
  const used = gate.state.datasyncs - before;
  assert.ok(used <= 3, `200 concurrent appends used ${used} fdatasyncs`);
  assert.equal(log.flushedOffset, 201);
  await log.close();
});

test('sync: partitions flush independently', async () => {
  const slow = gatedFileSystem();
  const fast = gatedFileSystem();
  const slowLog = await PartitionLog.open({
    directory: tempDir('slow-0'),
    topic: 'slow',
    partition: 0,
    fileSystem: slow.fileSystem,
    logger: new MemoryLogger(),
  });
  const fastLog = await PartitionLog.open({
    directory: tempDir('fast-0'),
    topic: 'fast',
    partition: 0,
    fileSystem: fast.fileSystem,
    logger: new MemoryLogger(),
  });
  slow.hold();
  const stuck = slowLog.append(makeValueBatch(1, 100));
  await fastLog.append(makeValueBatch(1, 100));
  assert.equal(fastLog.flushedOffset, 1);
  assert.equal(slowLog.flushedOffset, 0);
  slow.release();
  await stuck;
  await Promise.all([slowLog.close(), fastLog.close()]);
});

test('interval:<ms>: appends resolve after the write; a timer fdatasyncs', async () => {
  const gate = gatedFileSystem();
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'p',
    partition: 0,
    fileSystem: gate.fileSystem,
    config: { flushPolicy: { kind: 'interval', intervalMs: 30 } },
    logger: new MemoryLogger(),
  });
  const before = gate.state.datasyncs;
  await log.append(makeValueBatch(1, 100));
  assert.equal(gate.state.datasyncs, before, 'no fdatasync on the append path');
  assert.equal(log.flushedOffset, 0);
  assert.equal((await log.read(0, 1000)).nextOffset, 1, 'readable once written');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(log.flushedOffset, 1);
  await log.close();
});

test('os: no fdatasync until a roll or close', async () => {
  const gate = gatedFileSystem();
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'p',
    partition: 0,
    fileSystem: gate.fileSystem,
    config: { flushPolicy: { kind: 'os' }, segmentBytes: 1000 },
    logger: new MemoryLogger(),
  });
  const before = gate.state.datasyncs;
  for (let index = 0; index < 3; index += 1) await log.append(makeValueBatch(1, 100, index));
  assert.equal(gate.state.datasyncs, before);
  for (let index = 0; index < 10; index += 1) await log.append(makeValueBatch(1, 100, index));
  await tick();
  assert.ok(gate.state.datasyncs > before, 'a roll makes the sealed segment durable');
  assert.ok(log.flushedOffset > 0 && log.flushedOffset < 13);
  await log.close();
});

test('interval:<ms>: a steady stream of appends does not starve the timer flush', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'p',
    partition: 0,
    config: { flushPolicy: { kind: 'interval', intervalMs: 20 } },
    logger: new MemoryLogger(),
  });
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, writer) => {
    while (!stop) await log.append(makeValueBatch(1, 2000, writer));
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const flushedWhileBusy = log.flushedOffset;
  stop = true;
  await Promise.all(writers);
  assert.ok(flushedWhileBusy > 0, 'the recovery point moved while appends kept coming');
  await log.close();
});
