// The channel's vocabulary: half ids, op values, the target headers of a half record, and the
// records the broker derives from it (target, check request, abandoned copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecodedRecord } from '../../../src/protocol/record-batch/record-decoder.js';
import {
  abandonedRecord,
  acceptsClientProduce,
  checkRecord,
  encodeOp,
  halfTargetOf,
  parseHalfId,
  parseOp,
  targetRecord,
} from '../../../src/broker/half-messages/records.js';

const b = (text: string) => Buffer.from(text);

test('half ids are "<partition>:<offset>" in decimal, nothing else', () => {
  assert.deepEqual(parseHalfId(b('3:42')), { partition: 3, offset: 42 });
  assert.deepEqual(parseHalfId(b('0:0')), { partition: 0, offset: 0 });
  for (const bad of [
    '',
    '3',
    ':4',
    '3:',
    '03:4',
    '3:04',
    '-1:4',
    '3:4:5',
    ' 3:4',
    '3:4x',
    '99999999999:1',
    '1:99999999999999999',
  ])
    assert.equal(parseHalfId(b(bad)), null, bad);
  assert.equal(parseHalfId(null), null);
});

test('op values: the documented ones round-trip; anything else is not an op', () => {
  for (const op of [
    { op: 'commit' },
    { op: 'rollback' },
    { op: 'unknown' },
    { op: 'check', attempt: 2 },
    { op: 'moving', offset: 0 },
    { op: 'moved', offset: 17 },
    { op: 'abandoned', reason: 'why' },
  ] as const) {
    assert.deepEqual(parseOp(encodeOp(op)), op);
  }
  assert.deepEqual(parseOp(b('{"op":"commit","extra":1}')), { op: 'commit' }, 'unknown fields are ignored');
  for (const bad of [
    '',
    'commit',
    '"commit"',
    'null',
    '[]',
    '{}',
    '{"op":"COMMIT"}',
    '{"op":"check"}',
    '{"op":"check","attempt":0}',
    '{"op":"moving","offset":-1}',
    '{"op":"moved","offset":"3"}',
  ]) {
    assert.equal(parseOp(b(bad)), null, bad);
  }
  assert.equal(parseOp(null), null);
});

test('the target headers of a half record', () => {
  const h = (entries: Record<string, string>) =>
    Object.entries(entries).map(([key, value]) => ({ key, value: b(value) }));
  assert.deepEqual(
    halfTargetOf(h({ 'sluice.half.topic': 'orders', 'sluice.half.partition': '2', 'sluice.half.group': 'svc-1.a_b' })),
    { topic: 'orders', partition: 2, group: 'svc-1.a_b' },
  );
  assert.match(
    (
      halfTargetOf(h({ 'sluice.half.topic': 'orders', 'sluice.half.partition': '-1', 'sluice.half.group': 'g' })) as {
        problem: string;
      }
    ).problem,
    /not a partition number/,
  );
  assert.match(
    (
      halfTargetOf(
        h({ 'sluice.half.topic': 'orders', 'sluice.half.partition': '2147483648', 'sluice.half.group': 'g' }),
      ) as { problem: string }
    ).problem,
    /not a partition number/,
  );
  assert.match(
    (
      halfTargetOf(
        h({ 'sluice.half.topic': 'orders', 'sluice.half.partition': '0', 'sluice.half.group': 'x'.repeat(201) }),
      ) as { problem: string }
    ).problem,
    /not a producer group name/,
  );
  assert.match(
    (halfTargetOf([{ key: 'sluice.half.topic', value: null }]) as { problem: string }).problem,
    /no sluice\.half\.topic/,
  );
});

test('target, check and abandoned records keep key, value and timestamp; headers as the doc says', () => {
  const half: DecodedRecord = {
    offset: 5,
    offsetDelta: 0,
    timestamp: 1234,
    timestampDelta: 0,
    attributes: 0,
    key: b('k'),
    value: b('v'),
    headers: [
      { key: 'app', value: b('1') },
      { key: 'sluice.half.topic', value: b('t') },
      { key: 'sluice.half.partition', value: b('0') },
      { key: 'sluice.half.group', value: b('g') },
    ],
  };
  const names = (headers: Array<{ key: string; value: Buffer | null }> | undefined) =>
    (headers ?? []).map((x) => `${x.key}=${x.value?.toString()}`);
  const target = targetRecord(half, '1:5');
  assert.deepEqual([target.key, target.value, target.timestamp], [half.key, half.value, 1234]);
  assert.deepEqual(names(target.headers), ['app=1', 'sluice.half.id=1:5']);
  assert.deepEqual(names(checkRecord(half, '1:5', 2).headers), [
    'app=1',
    'sluice.half.topic=t',
    'sluice.half.partition=0',
    'sluice.half.group=g',
    'sluice.half.id=1:5',
    'sluice.half.check=2',
  ]);
  assert.deepEqual(names(abandonedRecord(half, '1:5', 3, 'why').headers).slice(4), [
    'sluice.half.id=1:5',
    'sluice.half.checks=3',
    'sluice.half.reason=why',
  ]);
});

test('clients may produce to __sluice_half and __sluice_half_op only', () => {
  assert.ok(acceptsClientProduce('__sluice_half'));
  assert.ok(acceptsClientProduce('__sluice_half_op'));
  for (const topic of ['__sluice_half_abandoned', '__sluice_check.g', '__consumer_offsets', '__transaction_state'])
    assert.ok(!acceptsClientProduce(topic), topic);
});
