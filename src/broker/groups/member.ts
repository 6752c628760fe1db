// One member of a classic group: what it joined with, what it was assigned, and the responses it
// is waiting for. A member waits for at most one JoinGroup and one SyncGroup answer at a time.
import type { Timer } from '../services.js';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** Only the leader gets the members (with their metadata for the chosen protocol). */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export type JoinCallback = (result: JoinResult) => void;
export type SyncCallback = (result: SyncResult) => void;

const EMPTY = Buffer.alloc(0);

export class Member {
  /** Answer owed to a JoinGroup that is parked until the rebalance completes. */
  awaitingJoin: JoinCallback | null = null;
  /** Answer owed to a follower's SyncGroup that waits for the leader's assignment. */
  awaitingSync: SyncCallback | null = null;
  /** Joined but has not yet seen the end of a rebalance (KIP-394/345: expires on the new-member timeout). */
  isNew = false;
  assignment: Buffer = EMPTY;
  /** The session timer; restarted by every heartbeat, join, sync and commit. */
  sessionTimer: Timer | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: Protocol[],
  ) {}

  /** The member's metadata for `protocol` (a protocol the group selected, so every member has it). */
  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }

  /** Same protocols, in the same order, with the same metadata: a rejoin that changes nothing. */
  matches(protocols: readonly Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every(
      (p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata),
    );
  }

  stopSessionTimer(): void {
    this.sessionTimer?.cancel();
    this.sessionTimer = null;
  }

  /** Answers the parked JoinGroup, if there is one. */
  answerJoin(result: JoinResult): void {
    const callback = this.awaitingJoin;
    this.awaitingJoin = null;
    callback?.(result);
  }

  /** Answers the parked SyncGroup, if there is one. */
  answerSync(result: SyncResult): void {
    const callback = this.awaitingSync;
    this.awaitingSync = null;
    callback?.(result);
  }
}
