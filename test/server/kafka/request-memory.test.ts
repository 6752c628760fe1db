// RequestMemory: whole frames reserved from their size prefix, frames still arriving limited to half
// of the budget, waiters served in order per kind, and every byte given back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestMemory } from '../../../src/server/kafka/request-memory.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('frames that arrived may use the whole budget; announced ones half of it', () => {
  const memory = new RequestMemory(1000);
  assert.ok(memory.tryReserve(400, 'announced'));
  assert.equal(memory.tryReserve(200, 'announced'), false, 'past the announced share');
  assert.ok(memory.tryReserve(500, 'arrived'));
  assert.equal(memory.tryReserve(200, 'arrived'), false, 'past the budget');
  memory.arrived(400);
  assert.equal(memory.announced, 0);
  assert.ok(memory.tryReserve(100, 'announced'));
  memory.release(100, 'announced');
  memory.release(400);
  memory.release(500);
  assert.equal(memory.reserved, 0);
});

test('with nothing reserved any frame fits, so a frame larger than the budget is still served alone', () => {
  const memory = new RequestMemory(100);
  assert.ok(memory.tryReserve(5000, 'announced'));
  assert.equal(memory.tryReserve(1, 'arrived'), false);
  memory.release(5000, 'announced');
  assert.ok(memory.tryReserve(5000, 'arrived'));
});

// A frame that has arrived passes a blocked one that is only announced.
test('waiters are granted in order per kind, from a microtask', async () => {
  const memory = new RequestMemory(1000);
  assert.ok(memory.tryReserve(500, 'announced'));
  assert.ok(memory.tryReserve(400, 'arrived'));
  const granted: string[] = [];
  memory.reserveLater(100, 'announced', () => granted.push('announced 100'));
  memory.reserveLater(50, 'arrived', () => granted.push('arrived 50'));
  memory.reserveLater(300, 'arrived', () => granted.push('arrived 300'));
  assert.deepEqual(granted, [], 'never on the caller’s stack');
  await tick();
  assert.deepEqual(granted, ['arrived 50'], 'the announced share is full; the budget has room for 50');
  memory.release(400);
  await tick();
  assert.deepEqual(granted, ['arrived 50', 'arrived 300']);
  memory.arrived(500);
  await tick();
  assert.deepEqual(granted, ['arrived 50', 'arrived 300', 'announced 100']);
  assert.equal(memory.reserved, 950);
});

test('a withdrawn wait is never granted', async () => {
  const memory = new RequestMemory(100);
  assert.ok(memory.tryReserve(100, 'arrived'));
  let granted = false;
  const withdraw = memory.reserveLater(10, 'arrived', () => (granted = true));
  withdraw();
  memory.release(100);
  await tick();
  assert.equal(granted, false);
  assert.equal(memory.reserved, 0);
});

test('accounting below zero is our bug and throws', () => {
  const memory = new RequestMemory(100);
  assert.throws(() => memory.release(1), /accounting broken/);
});
