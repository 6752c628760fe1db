// The Redis de-duplication store against a real redis-server (Debian's package), and two consumer
// processes racing on the same ids through it. redis-server must be installed (.ci/run installs it):
// a missing server fails these tests rather than skipping them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { RedisDedupStore } from '../../src/client/redis-dedup-store.js';
import { deduplicate } from '../../src/client/dedup.js';
import { stringSerde } from '../../src/client/serializers.js';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
let redis: ChildProcess | undefined;
let redisPort = 0;
let dir = '';

before(async () => {
  if (!haveRedis) throw new Error('redis-server is not installed: apt-get install -y redis-server (as .ci/run does)');
  dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  for (let attempt = 0; attempt < 5 && !redis; attempt++) {
    redisPort = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    const up = await waitForPort(redisPort, 3000);
    if (up) redis = child;
    else child.kill('SIGKILL');
  }
  if (!redis) throw new Error('redis-server did not start');
});
after(() => {
  redis?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

test('claim, busy, complete, done, release and expiry on Redis', async () => {
  const store = new RedisDedupStore({ port: redisPort, keyPrefix: `unit-${Date.now()}:` });
  try {
    assert.equal(await store.claim('a', 'w1', 10_000), 'claimed');
    assert.equal(await store.claim('a', 'w2', 10_000), 'busy');
    await store.release('a', 'w2'); // not the owner: no effect
    assert.equal(await store.claim('a', 'w2', 10_000), 'busy');
    await store.release('a', 'w1');
    assert.equal(await store.claim('a', 'w2', 10_000), 'claimed');
    await store.complete('a', 'w2', 200);
    assert.equal(await store.claim('a', 'w3', 10_000), 'done');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await store.claim('a', 'w3', 10_000), 'claimed', 'a done id expires after its TTL');
    // A crashed worker's claim expires after its lease.
    assert.equal(await store.claim('b', 'dead', 100), 'claimed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await store.claim('b', 'w4', 10_000), 'claimed');
    // Through the helper: concurrent runs of one id in this process run once.
    let runs = 0;
    const handler = deduplicate(
      async () => {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      { id: (m: { id: string }) => m.id, store, pollMs: 5 },
    );
    await Promise.all([handler({ id: 'c' }), handler({ id: 'c' }), handler({ id: 'c' })]);
    assert.equal(runs, 1);
  } finally {
    await store.close();
  }
});

test(
  'two consumer processes racing on duplicate ids process each id once, never at the same time',
  { timeout: 60_000 },
  async () => {
    const broker = await startTestBroker({ properties: { 'num.partitions': '2' } });
    const children: ChildProcess[] = [];
    try {
      // The same 200 ids in both partitions, so the two processes meet every id.
      const ids = Array.from({ length: 200 }, (_, i) => `payment-${i}`);
      const producer = new Producer<string, string>({
        bootstrap: broker.bootstrap,
        valueSerializer: stringSerde.serialize,
      });
      await producer.sendBatch('race', [
        ...ids.map((value) => ({ value, partition: 0 })),
        ...ids.map((value) => ({ value, partition: 1 })),
      ]);
      await producer.close();
      const logPath = join(dir, 'race.log');
      appendFileSync(logPath, '');
      const script = join(dirname(fileURLToPath(import.meta.url)), 'support', 'dedup-consumer-child.js');
      const finished: Array<Promise<void>> = [];
      for (const partition of [0, 1]) {
        const child = spawn(
          process.execPath,
          [script, broker.bootstrap, 'race', String(partition), String(redisPort), logPath, String(ids.length)],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        children.push(child);
        finished.push(
          new Promise((resolve) =>
            child.stdout!.on('data', (data: Buffer) => data.toString().includes('all') && resolve()),
          ),
        );
      }
      await Promise.all(finished);
      const lines = readFileSync(logPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string, string]);
      const starts = new Map<string, number>();
      const inside = new Set<string>();
      for (const [kind, id] of lines) {
        if (kind === 's') {
          assert.ok(!inside.has(id), `${id} ran in two processes at once`);
          inside.add(id);
          starts.set(id, (starts.get(id) ?? 0) + 1);
        } else inside.delete(id);
      }
      assert.equal(starts.size, ids.length);
      assert.ok(
        [...starts.values()].every((n) => n === 1),
        'every id was processed exactly once',
      );
      const pids = new Set(lines.map((l) => l[2]));
      assert.equal(pids.size, 2, 'both processes did work');
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await broker.close();
    }
  },
);
