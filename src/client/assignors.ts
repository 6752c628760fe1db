// Partition assignment, run by the group leader over every member's subscription.
//
//   range               (eager) per topic, members sorted by id, each gets a contiguous range; the
//                       first P % M members one more. Every rebalance revokes everything first.
//   cooperative-sticky  (incremental, KIP-429) balanced (member counts differ by at most one) while
//                       keeping every member's owned partitions where the balance allows. A partition
//                       moving from one member to another is left out of this round: its owner
//                       revokes it and rejoins, and the next round gives it to the new member.

export type AssignorName = 'range' | 'cooperative-sticky';

export interface MemberSubscription {
  memberId: string;
  groupInstanceId: string | null;
  topics: string[];
  /** Partitions the member owned before this rebalance (cooperative only). */
  owned: Map<string, number[]>;
  generationId: number;
}

/** memberId → topic → partitions. */
export type Assignment = Map<string, Map<string, number[]>>;

export interface Assignor {
  name: AssignorName;
  cooperative: boolean;
  assign(members: MemberSubscription[], partitionCounts: Map<string, number>): Assignment;
}

function emptyAssignment(members: MemberSubscription[]): Assignment {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

function add(assignment: Assignment, memberId: string, topic: string, partition: number): void {
  const topics = assignment.get(memberId)!;
  const list = topics.get(topic) ?? [];
  list.push(partition);
  topics.set(topic, list);
}

/** Members sorted so that static members keep their slot across restarts (KIP-345). */
function memberOrder(a: MemberSubscription, b: MemberSubscription): number {
  const ka = a.groupInstanceId ?? a.memberId;
  const kb = b.groupInstanceId ?? b.memberId;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export const rangeAssignor: Assignor = {
  name: 'range',
  cooperative: false,
  assign(members, partitionCounts) {
    const assignment = emptyAssignment(members);
    for (const [topic, count] of [...partitionCounts].sort()) {
      const subscribed = members.filter((m) => m.topics.includes(topic)).sort(memberOrder);
      if (subscribed.length === 0) continue;
      const each = Math.floor(count / subscribed.length);
      const extra = count % subscribed.length;
      let next = 0;
      subscribed.forEach((member, index) => {
        const take = each + (index < extra ? 1 : 0);
        for (let i = 0; i < take; i++) add(assignment, member.memberId, topic, next++);
      });
    }
    return assignment;
  },
};

export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  cooperative: true,
  assign(members, partitionCounts) {
    const assignment = emptyAssignment(members);
    const all: Array<{ topic: string; partition: number }> = [];
    for (const [topic, count] of [...partitionCounts].sort())
      for (let p = 0; p < count; p++) all.push({ topic, partition: p });
    const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;
    // Current owner of each partition; when two members claim one, the higher generation wins.
    const owner = new Map<string, MemberSubscription>();
    for (const member of members) {
      for (const [topic, partitions] of member.owned) {
        if (!member.topics.includes(topic) || !partitionCounts.has(topic)) continue;
        for (const partition of partitions) {
          if (partition >= partitionCounts.get(topic)!) continue;
          const key = keyOf(topic, partition);
          const previous = owner.get(key);
          if (!previous || previous.generationId < member.generationId) owner.set(key, member);
        }
      }
    }
    const counts = new Map(members.map((m) => [m.memberId, 0]));
    const assigned = new Map<string, string>();
    const give = (memberId: string, topic: string, partition: number) => {
      assigned.set(keyOf(topic, partition), memberId);
      counts.set(memberId, counts.get(memberId)! + 1);
    };
    // Balance target: with P partitions over M members, P % M members may hold one more.
    const eligible = (topic: string) => members.filter((m) => m.topics.includes(topic));
    const total = all.filter((p) => eligible(p.topic).length > 0).length;
    const floor = members.length === 0 ? 0 : Math.floor(total / members.length);
    let ceilingSlots = members.length === 0 ? 0 : total % members.length;
    // 1. Keep owned partitions up to the balance target, the members owning most first.
    const byOwned = [...members].sort((a, b) => ownedCount(b, owner) - ownedCount(a, owner) || memberOrder(a, b));
    for (const member of byOwned) {
      let cap = floor;
      if (ceilingSlots > 0 && ownedCount(member, owner) > floor) {
        cap = floor + 1;
        ceilingSlots--;
      }
      for (const { topic, partition } of all) {
        if (counts.get(member.memberId)! >= cap) break;
        if (owner.get(keyOf(topic, partition)) === member) give(member.memberId, topic, partition);
      }
    }
    // 2. The rest to the least loaded eligible member.
    for (const { topic, partition } of all) {
      if (assigned.has(keyOf(topic, partition))) continue;
      const candidates = eligible(topic).sort(
        (a, b) => counts.get(a.memberId)! - counts.get(b.memberId)! || memberOrder(a, b),
      );
      if (candidates.length > 0) give(candidates[0]!.memberId, topic, partition);
    }
    // 3. A partition changing hands waits one round, until its previous owner has revoked it.
    for (const [key, memberId] of assigned) {
      const previous = owner.get(key);
      if (previous && previous.memberId !== memberId) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      add(assignment, memberId, topic, Number(partition));
    }
    for (const topics of assignment.values()) for (const list of topics.values()) list.sort((a, b) => a - b);
    return assignment;
  },
};

function ownedCount(member: MemberSubscription, owner: Map<string, MemberSubscription>): number {
  let count = 0;
  for (const value of owner.values()) if (value === member) count++;
  return count;
}

export const assignors: Record<AssignorName, Assignor> = {
  range: rangeAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
};
