// A partition this broker leads, as its followers see it: where each follower's log ends (it says so
// with every fetch: the fetch offset), when it was last caught up, and the in-sync replicas the
// controller recorded. The Partition's high watermark rule becomes "the minimum log end of the ISR"
// (the leader's own end counted as the flush policy makes it durable), so `acks=-1` is answered once
// every in-sync replica has the batch; a follower behind for longer than `replica.lag.time.max.ms`
// is proposed out of the ISR, and one that caught up is proposed back in — the controller decides.
import type { Partition } from '../broker/partition/partition.js';
import type { PartitionLog } from '../storage/log.js';
import type { PartitionRecord } from './records.js';

interface Follower {
  /** The follower's log end: the offset it asked for last. */
  logEnd: number;
  /** When its fetch last reached the leader's log end (or the end as it was at its previous fetch). */
  caughtUpAt: number;
  /** The leader's log end when this follower's previous fetch was answered. */
  leaderEndAtLastFetch: number;
}

export interface IsrProposer {
  propose(topic: string, partition: number, leaderEpoch: number, isr: number[]): void;
}

/** The leader's own durable end: what its flush policy has made as safe as an acknowledgement needs. */
export function localCommitted(log: PartitionLog): number {
  return log.config.flushPolicy.kind === 'sync' ? log.flushedOffset : log.readableEndOffset;
}

export class LeaderReplication {
  private readonly followers = new Map<number, Follower>();
  private isr: number[];
  private proposed: string | null = null;
  private readonly since: number;
  /** The log end when this leadership began: every record a committed one could be is below it. */
  private readonly epochStartOffset: number;

  constructor(
    readonly partition: Partition,
    private readonly localId: number,
    readonly leaderEpoch: number,
    private record: PartitionRecord,
    private readonly proposer: IsrProposer,
    now: number,
  ) {
    this.isr = record.isr;
    this.since = now;
    this.epochStartOffset = partition.logEndOffset;
    partition.inSyncReplicaCount = this.isr.length;
    partition.setHighWatermarkRule((log) => this.highWatermarkOf(log));
  }

  private highWatermarkOf(log: PartitionLog): number {
    let hw = localCommitted(log);
    for (const id of this.isr) {
      if (id === this.localId) continue;
      hw = Math.min(hw, this.followers.get(id)?.logEnd ?? 0);
    }
    return hw;
  }

  /** The controller recorded a new ISR (same leader, same epoch). */
  update(record: PartitionRecord): void {
    this.record = record;
    this.isr = record.isr;
    this.proposed = null;
    this.partition.inSyncReplicaCount = this.isr.length;
    this.partition.advanceHighWatermark(); // a smaller ISR can commit more
  }

  /** A follower fetched from `fetchOffset`. */
  followerFetched(replicaId: number, fetchOffset: number, now: number): void {
    const end = this.partition.logEndOffset;
    let follower = this.followers.get(replicaId);
    if (follower === undefined) {
      follower = { logEnd: 0, caughtUpAt: -Infinity, leaderEndAtLastFetch: -1 };
      this.followers.set(replicaId, follower);
    }
    // An in-sync follower asking from below the high watermark has lost records it had made durable
    // (restarted on a log cut short: a disk that lost written data). Out of the ISR at once, before
    // an election could pick it, rather than after replica.lag.time.max.ms.
    if (this.isr.includes(replicaId) && replicaId !== this.localId && fetchOffset < this.partition.highWatermark) {
      follower.caughtUpAt = -Infinity;
      this.propose(this.isr.filter((id) => id !== replicaId));
    }
    follower.logEnd = Math.min(fetchOffset, end);
    if (fetchOffset >= end || fetchOffset >= follower.leaderEndAtLastFetch) follower.caughtUpAt = now;
    follower.leaderEndAtLastFetch = end;
    this.partition.advanceHighWatermark();
    // In sync means holding every record that may be committed. A new leader's high watermark can be
    // behind what its predecessor committed (it learns it from its followers' fetches), so reaching it
    // is not enough: the follower must also hold everything this leader had when it took over (Kafka
    // checks the same, the start offset of the leader's epoch). Else it could be elected next and lose
    // acknowledged records.
    const caughtUp = fetchOffset >= Math.max(this.partition.highWatermark, this.epochStartOffset);
    if (!this.isr.includes(replicaId) && this.record.replicas.includes(replicaId) && caughtUp)
      this.propose([...this.isr, replicaId]);
  }

  /** Followers in the ISR that have not caught up within `lagMaxMs` are proposed out of it. */
  checkLag(now: number, lagMaxMs: number): void {
    const lagging = this.isr.filter((id) => {
      if (id === this.localId) return false;
      const caughtUpAt = this.followers.get(id)?.caughtUpAt ?? this.since;
      return now - Math.max(caughtUpAt, this.since) > lagMaxMs;
    });
    if (lagging.length > 0) this.propose(this.isr.filter((id) => !lagging.includes(id)));
  }

  private propose(isr: number[]): void {
    const text = [...isr].sort((a, b) => a - b).join(',');
    if (this.proposed === text) return;
    this.proposed = text;
    this.proposer.propose(this.partition.topic, this.partition.index, this.leaderEpoch, isr);
  }
}
