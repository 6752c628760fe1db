// The ordered parallel engine fed from memory: per-key order, real parallelism, commit positions,
// retries that do not block other keys, exhaustion hand-off; the backoff policies; de-duplication.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedExecutor } from '../../src/client/ordered-executor.js';
import { backoffDelayMs } from '../../src/client/backoff.js';
import { deduplicate, MemoryDedupStore } from '../../src/client/dedup.js';
import { Random, seedFromEnvironment } from '../support/random.js';

interface Item {
  partition: string;
  offset: number;
  key: string;
  seq: number;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('same key in order, different keys in parallel, under random delays', async () => {
  const seed = seedFromEnvironment();
  const generator = new Random(seed);
  const random = () => generator.next() / 2 ** 32;
  const seen = new Map<string, number[]>();
  let running = 0;
  let peak = 0;
  const engine = new OrderedExecutor<Item>({
    concurrency: 16,
    handle: async (item) => {
      running++;
      peak = Math.max(peak, running);
      await delay(Math.floor(random() * 3));
      running--;
      const list = seen.get(item.key) ?? [];
      list.push(item.seq);
      seen.set(item.key, list);
    },
  });
  const sent = new Map<string, number[]>();
  const offsets = new Map<string, number>();
  for (let seq = 0; seq < 5000; seq++) {
    const key = `k${Math.floor(random() * 200)}`;
    const partition = `t/${key.length % 4}`;
    const offset = offsets.get(partition) ?? 0;
    offsets.set(partition, offset + 1);
    engine.push(partition, offset, `${partition}/${key}`, { partition, offset, key, seq });
    const list = sent.get(key) ?? [];
    list.push(seq);
    sent.set(key, list);
    if (seq % 500 === 0) await engine.waitForRoom(1000);
  }
  await engine.idle();
  assert.deepEqual(seen, sent, `SLUICE_SEED=${seed}`);
  assert.equal(peak, 16, 'all 16 slots were used');
  assert.equal(engine.peakRunning, 16);
  for (const [partition, next] of offsets) assert.equal(engine.committable(partition), next);
});

test('the commit position is the lowest unfinished offset', async () => {
  let unblock!: () => void;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));
  const engine = new OrderedExecutor<Item>({
    concurrency: 4,
    handle: async (item) => (item.offset === 3 ? blocked : undefined),
  });
  for (let offset = 0; offset < 10; offset++)
    engine.push('t/0', offset, `key-${offset}`, { partition: 't/0', offset, key: `key-${offset}`, seq: offset });
  await delay(20);
  assert.equal(engine.committable('t/0'), 3);
  assert.equal(engine.pending, 1);
  unblock();
  await engine.idle();
  assert.equal(engine.committable('t/0'), 10);
});

test('retries back off without blocking other keys, then hand the message to onExhausted', async () => {
  const attempts: number[] = [];
  const exhausted: Array<{ offset: number; attempts: number; error: string }> = [];
  const done: number[] = [];
  const engine = new OrderedExecutor<Item>({
    concurrency: 1,
    retry: { maxAttempts: 3, backoff: { delaysMs: [30, 60] } },
    handle: async (item, attempt) => {
      if (item.key === 'bad') {
        attempts.push(attempt);
        throw new Error(`boom ${attempt}`);
      }
      done.push(item.offset);
    },
    onExhausted: async (item, error, count) => {
      exhausted.push({ offset: item.offset, attempts: count, error: (error as Error).message });
    },
  });
  engine.push('t/0', 0, 'bad', { partition: 't/0', offset: 0, key: 'bad', seq: 0 });
  engine.push('t/0', 1, 'bad', { partition: 't/0', offset: 1, key: 'bad', seq: 1 });
  for (let offset = 2; offset < 12; offset++)
    engine.push('t/0', offset, `good-${offset}`, { partition: 't/0', offset, key: `good-${offset}`, seq: offset });
  await delay(15);
  // With a single slot, the good keys all ran while "bad" waited for its retry.
  assert.deepEqual(done, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(engine.committable('t/0'), 0);
  await engine.idle();
  assert.deepEqual(attempts, [1, 2, 3, 1, 2, 3]);
  assert.deepEqual(exhausted, [
    { offset: 0, attempts: 3, error: 'boom 3' },
    { offset: 1, attempts: 3, error: 'boom 3' },
  ]);
  assert.equal(engine.committable('t/0'), 12);
});

test('a failing onExhausted is retried and holds the commit position', async () => {
  let dlqCalls = 0;
  const engine = new OrderedExecutor<Item>({
    concurrency: 2,
    retry: { maxAttempts: 1, backoff: { delaysMs: [5] } },
    handle: async () => {
      throw new Error('handler');
    },
    onExhausted: async () => {
      dlqCalls++;
      if (dlqCalls < 3) throw new Error('dlq down');
    },
  });
  engine.push('t/0', 7, 'k', { partition: 't/0', offset: 7, key: 'k', seq: 0 });
  await delay(2);
  assert.equal(engine.committable('t/0'), 7);
  await engine.idle();
  assert.equal(dlqCalls, 3);
  assert.equal(engine.committable('t/0'), 8);
});

test('backoff: fixed list and exponential with jitter', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelayMs({ delaysMs: [10, 20, 50] }, n)),
    [10, 20, 50, 50],
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelayMs({ initialMs: 100, maxMs: 1000, jitter: 0 }, n)),
    [100, 200, 400, 800, 1000],
  );
  for (let i = 0; i < 100; i++) {
    const value = backoffDelayMs({ initialMs: 100, jitter: 0.5 }, 2);
    assert.ok(value >= 100 && value <= 300, String(value));
  }
});

test('dedup: completed ids are skipped, concurrent duplicates run once, ids expire, the store is bounded', async () => {
  let now = 1000;
  const store = new MemoryDedupStore({ maxEntries: 100, now: () => now });
  const runs: string[] = [];
  let inside = 0;
  let overlap = false;
  const handler = deduplicate(
    async (message: { id: string }) => {
      inside++;
      if (inside > 1) overlap = true;
      await delay(10);
      runs.push(message.id);
      inside--;
    },
    { id: (m) => m.id, store, ttlMs: 5000, pollMs: 2 },
  );
  await Promise.all([handler({ id: 'a' }), handler({ id: 'a' }), handler({ id: 'a' })]);
  assert.deepEqual(runs, ['a']);
  assert.equal(overlap, false);
  await handler({ id: 'a' });
  assert.deepEqual(runs, ['a']);
  now += 6000;
  await handler({ id: 'a' });
  assert.deepEqual(runs, ['a', 'a']);
  // A failed run releases its claim, so the retry runs.
  let fail = true;
  const flaky = deduplicate(
    async () => {
      if (fail) throw new Error('x');
    },
    { id: () => 'f', store },
  );
  await assert.rejects(flaky({}));
  fail = false;
  await flaky({});
  for (let i = 0; i < 500; i++) await store.complete(`id-${i}`, 'o', 1000);
  assert.equal(store.size, 100);
});

test('runs: one push stands for consecutive offsets of one key; retries, drops and counts go per message', async () => {
  // One object for offsets 10…19 of key "a" (as the consumer pushes a fetched batch), pushed in two
  // parts that join up, then a run of key "b" and a single message of "a" at a gap.
  const batch = { name: 'batch' };
  const handled: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const failedOnce = new Set<number>();
  const engine = new OrderedExecutor<{ name: string }>({
    concurrency: 2,
    retry: { maxAttempts: 2, backoff: { delaysMs: [5] } },
    handle: async (message, attempt, offset) => {
      handled.push(`${message.name}:${offset}:${attempt}`);
      if (offset === 12 && !failedOnce.has(offset)) {
        failedOnce.add(offset);
        throw new Error('once');
      }
      if (offset === 15) await held;
    },
  });
  engine.push('t/0', 10, 'a', batch, 4);
  engine.push('t/0', 14, 'a', batch, 6);
  engine.push('t/1', 0, 'b', batch, 3);
  engine.push('t/0', 30, 'a', { name: 'other' });
  assert.equal(engine.pending, 14);
  await delay(30);
  // "a" stops at 15 (held); everything before it ran in order, 12 twice (attempt 1 failed).
  assert.deepEqual(
    handled.filter((h) => h.startsWith('batch') && Number(h.split(':')[1]) >= 10),
    ['batch:10:1', 'batch:11:1', 'batch:12:1', 'batch:12:2', 'batch:13:1', 'batch:14:1', 'batch:15:1'],
  );
  assert.equal(engine.committable('t/0'), 15);
  assert.equal(engine.committable('t/1'), 3);
  assert.equal(engine.pendingIn(['t/0']), 6, '15 (running), 16…19 and 30');
  // Dropping t/0 keeps only the running message; the rest of the run and 30 are gone.
  engine.dropQueued(['t/0']);
  assert.equal(engine.pendingIn(['t/0']), 1);
  release();
  await engine.idle();
  assert.equal(engine.pending, 0);
  assert.ok(!handled.some((h) => /:(1[6-9]|30):/.test(h) && h.startsWith('batch')) && !handled.includes('other:30:1'));
  assert.equal(engine.committable('t/0'), 16, 'the dropped offsets were never finished');
});

test('handlers that resolve at once still let the event loop turn (timers and sockets are not starved)', async () => {
  let handled = 0;
  const engine = new OrderedExecutor<{ name: string }>({
    concurrency: 4,
    handle: async () => {
      handled++;
    },
  });
  // Scheduled before any handler runs: without the engine's yields it would fire only after all
  // 20 000 handlers, which run back to back in microtasks.
  const seenAt: number[] = [];
  const tick = (): void => {
    seenAt.push(handled);
    if (handled < 20_000) setImmediate(tick);
  };
  setImmediate(tick);
  engine.push('t/0', 0, 'a', { name: 'a' }, 10_000);
  engine.push('t/1', 0, 'b', { name: 'b' }, 10_000);
  await engine.idle();
  assert.equal(handled, 20_000);
  assert.ok(seenAt.length >= 10, `the event loop turned ${seenAt.length} times while 20 000 handlers ran`);
  assert.ok(seenAt[0]! < 20_000, `the first turn came after ${seenAt[0]} handlers`);
});
