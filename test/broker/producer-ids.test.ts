import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { DataDirError } from '../../src/broker/data-dir.js';
import { PRODUCER_IDS_FILE_NAME, ProducerIdAllocator } from '../../src/broker/producer-ids.js';

const directories: string[] = [];
after(() => directories.forEach((directory) => rmSync(directory, { recursive: true, force: true })));
function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-producer-ids-'));
  directories.push(directory);
  return directory;
}

test('a fresh data directory starts at 0 and hands out consecutive ids', async () => {
  const allocator = await ProducerIdAllocator.open(tempDir(), { blockSize: 10 });
  const ids: number[] = [];
  for (let count = 0; count < 25; count += 1) ids.push(await allocator.next());
  assert.deepEqual(
    ids,
    Array.from({ length: 25 }, (_, index) => index),
  );
  assert.equal(allocator.reservedEnd, 30);
});

test('ids asked for at once are distinct, and one write reserves each block', async () => {
  const directory = tempDir();
  const allocator = await ProducerIdAllocator.open(directory, { blockSize: 10 });
  const ids = await Promise.all(Array.from({ length: 25 }, () => allocator.next()));
  assert.deepEqual(
    [...ids].sort((left, right) => left - right),
    Array.from({ length: 25 }, (_, index) => index),
  );
  assert.equal(allocator.reservedEnd, 30);
  assert.match(readFileSync(join(directory, PRODUCER_IDS_FILE_NAME), 'utf8'), /next\.block\.start=30\n/);
});

test('the block end is on disk before any id of the block is returned', async () => {
  const directory = tempDir();
  const allocator = await ProducerIdAllocator.open(directory, { blockSize: 100 });
  for (let count = 0; count < 250; count += 1) {
    const id = await allocator.next();
    const persisted = Number(
      /next\.block\.start=(\d+)/.exec(readFileSync(join(directory, PRODUCER_IDS_FILE_NAME), 'utf8'))![1],
    );
    assert.ok(id < persisted, `id ${id} handed out while only ${persisted} was reserved`);
  }
});

test('ids stay unique across reopen, with and without the previous allocator being done', async () => {
  const directory = tempDir();
  const seen = new Set<number>();
  const take = async (allocator: ProducerIdAllocator, count: number) => {
    for (let index = 0; index < count; index += 1) {
      const id = await allocator.next();
      assert.ok(Number.isSafeInteger(id) && id >= 0);
      assert.ok(!seen.has(id), `id ${id} handed out twice`);
      seen.add(id);
    }
  };
  const first = await ProducerIdAllocator.open(directory, { blockSize: 7 });
  await take(first, 5);
  // No close exists and none is needed: the old allocator is simply abandoned (as by kill -9).
  const second = await ProducerIdAllocator.open(directory, { blockSize: 7 });
  await take(second, 20);
  const third = await ProducerIdAllocator.open(directory, { blockSize: 7 });
  await take(third, 1);
  // A new open that hands out nothing does not move the file; the next one still does not repeat.
  await ProducerIdAllocator.open(directory, { blockSize: 7 });
  await take(await ProducerIdAllocator.open(directory), 3);
  assert.equal(seen.size, 29);
});

test('ids handed out by a process killed with SIGKILL are never handed out again', async () => {
  const directory = tempDir();
  // Tests run compiled from dist/ (npm test) or as TypeScript under tsx while developing.
  const compiled = import.meta.url.endsWith('.js');
  const moduleUrl = new URL(`../../src/broker/producer-ids.${compiled ? 'js' : 'ts'}`, import.meta.url).href;
  const script = `
    import { ProducerIdAllocator } from ${JSON.stringify(moduleUrl)};
    const allocator = await ProducerIdAllocator.open(${JSON.stringify(directory)}, { blockSize: 50 });
    for (;;) {
      process.stdout.write((await allocator.next()) + '\\n');
      await new Promise((resolve) => setImmediate(resolve));
    }
  `;
  const child = spawn(
    process.execPath,
    [...(compiled ? [] : ['--import', 'tsx']), '--input-type=module', '-e', script],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.split('\n').length > 120) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
  });
  const handedOut = output
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
  assert.ok(handedOut.length >= 100);
  const allocator = await ProducerIdAllocator.open(directory, { blockSize: 50 });
  const next = await allocator.next();
  assert.ok(
    next > Math.max(...handedOut),
    `after the kill, ${next} is not above every id handed out (max ${Math.max(...handedOut)})`,
  );
});

test('an unreadable file is refused rather than guessed', async () => {
  const directory = tempDir();
  writeFileSync(join(directory, PRODUCER_IDS_FILE_NAME), 'next.block.start=banana\n');
  await assert.rejects(ProducerIdAllocator.open(directory), DataDirError);
  writeFileSync(join(directory, PRODUCER_IDS_FILE_NAME), '');
  await assert.rejects(ProducerIdAllocator.open(directory), DataDirError);
  writeFileSync(join(directory, PRODUCER_IDS_FILE_NAME), `next.block.start=${2 ** 53}\n`);
  await assert.rejects(ProducerIdAllocator.open(directory), DataDirError);
});

test('ids stop with an error rather than leaving the safe-integer range', async () => {
  const directory = tempDir();
  writeFileSync(join(directory, PRODUCER_IDS_FILE_NAME), `next.block.start=${Number.MAX_SAFE_INTEGER - 5}\n`);
  const allocator = await ProducerIdAllocator.open(directory, { blockSize: 10 });
  await assert.rejects(allocator.next(), DataDirError);
});
