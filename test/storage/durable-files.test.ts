import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  createFileExclusively,
  listDirectory,
  makeDirectory,
  pathExists,
  readTextIfExists,
  removeDirectory,
  removeFile,
  writeFileDurably,
} from '../../src/storage/durable-files.js';
import { failingFileSystem, temporaryDirectory } from './helpers.js';

const directory = temporaryDirectory('sluice-durable-');
after(() => directory.remove());

test('writes to one path asked for at once land in call order, and leave no temporary file', async () => {
  const path = join(directory.path, 'ordered.json');
  // Large enough that the writes would overlap if they were not queued.
  const contents = Array.from({ length: 8 }, (_, index) => `${index}:${'x'.repeat(256 * 1024)}`);
  await Promise.all(contents.map((content) => writeFileDurably(path, content)));
  assert.equal(readFileSync(path, 'utf8'), contents.at(-1));
  assert.deepEqual(
    readdirSync(directory.path).filter((name) => name.startsWith('ordered')),
    ['ordered.json'],
  );
});

test('a failed write rejects, keeps the old content, and the next write to the path goes ahead', async () => {
  const path = join(directory.path, 'kept.txt');
  await writeFileDurably(path, 'old');
  const disk = failingFileSystem('EIO');
  disk.arm(['fsync']);
  const failed = writeFileDurably(path, 'lost', disk.fileSystem);
  const next = writeFileDurably(path, 'new');
  await assert.rejects(failed, { code: 'EIO' });
  assert.notEqual(readFileSync(path, 'utf8'), 'lost');
  await next;
  assert.equal(readFileSync(path, 'utf8'), 'new');
});

test('reads, listings, exclusive creation and removal', async () => {
  const sub = join(directory.path, 'a', 'b');
  await makeDirectory(sub);
  await makeDirectory(sub); // already there: nothing
  assert.equal(await readTextIfExists(join(sub, 'missing')), null);
  assert.equal(await pathExists(join(sub, 'lock')), false);
  assert.equal(await createFileExclusively(join(sub, 'lock'), '42\n'), true);
  assert.equal(await createFileExclusively(join(sub, 'lock'), '43\n'), false, 'a second creation is refused');
  assert.equal(await readTextIfExists(join(sub, 'lock')), '42\n');
  assert.deepEqual(await listDirectory(sub), ['lock']);
  await removeFile(join(sub, 'lock'));
  await removeFile(join(sub, 'lock')); // already gone: nothing
  assert.deepEqual(await listDirectory(sub), []);
  await removeDirectory(join(directory.path, 'a'));
  assert.equal(existsSync(join(directory.path, 'a')), false);
});
