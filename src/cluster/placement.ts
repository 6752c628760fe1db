// Where the replicas of new partitions go, and who leads a partition whose leader is gone. Pure: the
// controller calls these with what its cluster state says.
//
// Replicas: the brokers are listed alternating over racks (r1-a, r2-a, r3-a, r1-b, …), so consecutive
// brokers of the list are in different racks wherever racks allow. Partition p's first replica — its
// preferred leader — is broker (start + p) of that list, so leaders spread evenly; its followers are
// the next ones — without racks after a shift that grows with each full round over the brokers, so two
// partitions with the same leader do not also share all followers (Kafka shifts the same way).
import type { PartitionRecord } from './records.js';

export interface PlacementBroker {
  nodeId: number;
  rack: string | null;
}

/** The brokers in rack-alternating order; without racks, by id. */
export function rackAlternating(brokers: readonly PlacementBroker[]): number[] {
  const byRack = new Map<string, number[]>();
  for (const b of [...brokers].sort((x, y) => x.nodeId - y.nodeId)) {
    const rack = b.rack ?? '';
    byRack.set(rack, [...(byRack.get(rack) ?? []), b.nodeId]);
  }
  const racks = [...byRack.keys()].sort();
  const ordered: number[] = [];
  for (let round = 0; ordered.length < brokers.length; round++)
    for (const rack of racks) {
      const id = byRack.get(rack)![round];
      if (id !== undefined) ordered.push(id);
    }
  return ordered;
}

/** Replica lists of partitions `from`..`from+count-1`, each `replicationFactor` distinct brokers. */
export function assignReplicas(
  brokers: readonly PlacementBroker[],
  from: number,
  count: number,
  replicationFactor: number,
  start = 0,
): number[][] {
  const list = rackAlternating(brokers);
  const n = list.length;
  // With racks, followers are the next brokers of the rack-alternating list, so they are in other racks;
  // a shift would break that. Without racks a shift spreads followers.
  const racks = new Set(brokers.map((b) => b.rack ?? '')).size;
  if (replicationFactor < 1 || replicationFactor > n)
    throw new RangeError(`replication factor ${replicationFactor} with ${n} brokers`);
  const assignments: number[][] = [];
  for (let p = from; p < from + count; p++) {
    const first = (start + p) % n;
    const shift = n > 1 && racks === 1 ? Math.floor(p / n) % (n - 1) : 0;
    const replicas = [list[first]!];
    for (let j = 1; j < replicationFactor; j++) replicas.push(list[(first + shift + j) % n]!);
    // A shift can wrap a follower onto the leader or onto each other when rf is close to n: fill in order.
    const distinct = [...new Set(replicas)];
    for (let k = 1; distinct.length < replicationFactor; k++) {
      const candidate = list[(first + k) % n]!;
      if (!distinct.includes(candidate)) distinct.push(candidate);
    }
    assignments.push(distinct);
  }
  return assignments;
}

/**
 * The partition as it should be given which brokers are alive (`eligible`: registered and not shutting
 * down). In-sync replicas that are gone leave the ISR — unless none would be left: then the ISR keeps
 * its last members, so that one of them, and only one of them, can lead again when it comes back (an
 * out-of-sync replica leads only with `unclean`). A leader change bumps the epoch. Returns the same
 * object when nothing changes.
 */
export function electLeader(
  current: PartitionRecord,
  eligible: ReadonlySet<number>,
  unclean: boolean,
): PartitionRecord {
  const liveIsr = current.isr.filter((id) => eligible.has(id));
  let leader = current.leader;
  let isr = current.isr;
  if (liveIsr.length > 0) {
    isr = liveIsr;
    if (!eligible.has(leader) || !liveIsr.includes(leader))
      leader = current.replicas.find((id) => liveIsr.includes(id)) ?? liveIsr[0]!;
  } else {
    const anyLive = current.replicas.find((id) => eligible.has(id));
    if (unclean && anyLive !== undefined) {
      leader = anyLive;
      isr = [anyLive];
    } else leader = -1;
  }
  if (leader === current.leader && sameMembers(isr, current.isr)) return current;
  return {
    replicas: current.replicas,
    leader,
    leaderEpoch: leader !== current.leader ? current.leaderEpoch + 1 : current.leaderEpoch,
    isr,
  };
}

export function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
