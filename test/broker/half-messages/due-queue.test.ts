// The due queue hands out items in time order, only when due, and skips entries the caller says are stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DueQueue } from '../../../src/broker/half-messages/due-queue.js';

test('items come out when due, earliest first; stale entries are dropped', () => {
  const queue = new DueQueue<string>();
  assert.equal(queue.nextAtMs, Infinity);
  const times = [50, 10, 40, 30, 20, 60, 10];
  times.forEach((at, i) => queue.push(at, `item${i}@${at}`));
  assert.equal(queue.nextAtMs, 10);
  assert.deepEqual(
    queue.takeDue(5, () => true),
    [],
  );
  assert.deepEqual(queue.takeDue(30, () => true).sort(), ['item1@10', 'item3@30', 'item4@20', 'item6@10']);
  assert.equal(queue.nextAtMs, 40);
  assert.deepEqual(
    queue.takeDue(100, (item) => !item.startsWith('item0')),
    ['item2@40', 'item5@60'],
  );
  assert.equal(queue.size, 0);
});

test('a random sequence comes out sorted', () => {
  const queue = new DueQueue<number>();
  const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1009);
  for (const value of values) queue.push(value, value);
  const out: number[] = [];
  for (let now = 0; now <= 1009; now += 37) out.push(...queue.takeDue(now, () => true));
  out.push(...queue.takeDue(Infinity, () => true));
  assert.deepEqual(
    out,
    [...values].sort((a, b) => a - b),
  );
});
