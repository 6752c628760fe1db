// The assignors as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cooperativeStickyAssignor, rangeAssignor, type MemberSubscription } from '../../src/client/assignors.js';

function member(
  memberId: string,
  topics: string[],
  owned: Record<string, number[]> = {},
  generationId = 1,
): MemberSubscription {
  return { memberId, groupInstanceId: null, topics, owned: new Map(Object.entries(owned)), generationId };
}

const plain = (a: Map<string, Map<string, number[]>>) =>
  Object.fromEntries([...a].map(([m, t]) => [m, Object.fromEntries(t)]));

test('range gives contiguous ranges per topic, the first members one more', () => {
  const result = rangeAssignor.assign(
    [member('b', ['t']), member('a', ['t', 'u'])],
    new Map([
      ['t', 5],
      ['u', 2],
    ]),
  );
  assert.deepEqual(plain(result), { a: { t: [0, 1, 2], u: [0, 1] }, b: { t: [3, 4] } });
});

test('cooperative-sticky keeps owned partitions, balances, and holds back partitions changing hands', () => {
  const counts = new Map([['t', 4]]);
  // a owned everything; b is new: a keeps two, b gets nothing this round (the two move next round).
  const first = cooperativeStickyAssignor.assign([member('a', ['t'], { t: [0, 1, 2, 3] }), member('b', ['t'])], counts);
  assert.deepEqual(plain(first), { a: { t: [0, 1] }, b: {} });
  // Next round, a owns 0 and 1 only: b gets 2 and 3.
  const second = cooperativeStickyAssignor.assign(
    [member('a', ['t'], { t: [0, 1] }, 2), member('b', ['t'], {}, 2)],
    counts,
  );
  assert.deepEqual(plain(second), { a: { t: [0, 1] }, b: { t: [2, 3] } });
  // A member leaving: its partitions go to the others at once (no previous owner in the group).
  const third = cooperativeStickyAssignor.assign([member('a', ['t'], { t: [0, 1] }, 3)], counts);
  assert.deepEqual(plain(third), { a: { t: [0, 1, 2, 3] } });
  // Uneven: 5 partitions over 2 members, counts differ by at most one.
  const uneven = cooperativeStickyAssignor.assign(
    [member('a', ['t'], { t: [0, 1, 2] }), member('b', ['t'], { t: [3, 4] })],
    new Map([['t', 5]]),
  );
  assert.deepEqual(plain(uneven), { a: { t: [0, 1, 2] }, b: { t: [3, 4] } });
});
