// A classic (pre-KIP-848) consumer group: its state machine, members and committed offsets.
// The transitions are Kafka's (GroupMetadata.scala validPreviousStates):
//
//   Empty               ← PreparingRebalance (the rebalance ended with no member)
//   PreparingRebalance  ← Empty, Stable, CompletingRebalance (a join, leave or expiry)
//   CompletingRebalance ← PreparingRebalance (every member rejoined or the rebalance timed out)
//   Stable              ← CompletingRebalance (the leader's SyncGroup stored the assignment)
//   Dead                ← any state (group deleted, or Empty without offsets and removed)
//
// Anything else is a bug in the coordinator: transitionTo asserts. When to take each transition is
// decided by state-machine.ts (rebalances) and membership.ts (joins, syncs, leaves).
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Timer } from '../services.js';
import { decodeSubscribedTopics } from './subscription.js';
import type { CommittedOffset } from './offsets-records.js';
import type { JoinResult, Member, Protocol } from './member.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

const previousStates: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Empty', 'Stable', 'CompletingRebalance'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'],
};

export class GroupStateError extends Error {
  override readonly name = 'GroupStateError';
}

export class Group {
  state: GroupState = 'Empty';
  /** When the group entered its current state (offset retention of Empty groups counts from it). */
  stateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id (KIP-345). */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED (KIP-394), waiting for the second join. */
  readonly pendingMembers = new Map<string, Timer>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  /** topic → partition → committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** A member joined during the initial rebalance delay: extend it once more. */
  newMemberAdded = false;
  joinTimer: Timer | null = null;
  /** True while the join timer is the initial delay (the rebalance does not complete early then). */
  initialDelay = false;
  syncTimer: Timer | null = null;
  /** Whether a GroupMetadata record for this group is in `__consumer_offsets` (a tombstone is owed on removal). */
  stored = false;
  /** Topics the members subscribe to (consumer protocol), or null when unknown. */
  subscribedTopics: Set<string> | null = null;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, now: number): void {
    if (!previousStates[state].includes(this.state))
      throw new GroupStateError(`group ${this.groupId}: illegal transition ${this.state} → ${state}`);
    this.state = state;
    this.stateTimestamp = now;
  }

  get size(): number {
    return this.members.size + this.pendingMembers.size;
  }

  get offsetCount(): number {
    let count = 0;
    for (const partitions of this.offsets.values()) count += partitions.size;
    return count;
  }

  add(member: Member): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
  }

  remove(memberId: string): Member | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    member.stopSessionTimer();
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId)
      this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === memberId) {
      // Prefer a member that already rejoined, as Kafka does, so the new leader gets the members list.
      const next =
        [...this.members.values()].find((m) => m.awaitingJoin !== null) ?? this.members.values().next().value;
      this.leaderId = next?.memberId ?? null;
    }
    return member;
  }

  /** A static member restarted: the same member under a new id (KIP-345). */
  replaceMemberId(oldId: string, newId: string): Member {
    const member = this.members.get(oldId)!;
    this.members.delete(oldId);
    member.memberId = newId;
    this.members.set(newId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    if (this.pendingSync.delete(oldId)) this.pendingSync.add(newId);
    return member;
  }

  /** KIP-345: a request with an instance id whose registered member id is another one. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const registered = this.staticMembers.get(groupInstanceId);
    return registered !== undefined && registered !== memberId;
  }

  /** The largest rebalance timeout of the members: how long a rebalance waits for rejoins. */
  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  hasAllMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (m.awaitingJoin === null) return false;
    return true;
  }

  /** Protocols every member supports, in the first member's order of preference. */
  private candidateProtocols(): string[] {
    const members = [...this.members.values()];
    if (members.length === 0) return [];
    return members[0]!.protocols
      .map((p) => p.name)
      .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Whether a member with these protocols may join: same protocol type, and a protocol in common. */
  supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.includes(p.name));
  }

  /** Kafka's vote: each member votes for its most preferred candidate; most votes wins (ties: first candidate). */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    if (candidates.length === 0) throw new GroupStateError(`group ${this.groupId}: no protocol common to all members`);
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const member of this.members.values()) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    let best = candidates[0]!;
    for (const candidate of candidates) if (votes.get(candidate)! > votes.get(best)!) best = candidate;
    return best;
  }

  /** The JoinGroup answer of the current generation for `member`; only the leader's lists the members. */
  joinResultFor(member: Member, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leaderId: this.leaderId ?? '',
      memberId: member.memberId,
      members: withMembers
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.metadataFor(this.protocolName),
          }))
        : [],
    };
  }

  /** Recomputes the subscribed topics from the members' consumer-protocol metadata. */
  updateSubscribedTopics(): void {
    if (this.protocolType !== 'consumer' || this.protocolName === null) {
      this.subscribedTopics = null;
      return;
    }
    const topics = new Set<string>();
    for (const member of this.members.values()) {
      const subscribed = decodeSubscribedTopics(member.metadataFor(this.protocolName));
      if (subscribed === null) {
        this.subscribedTopics = null; // unreadable metadata: treat as "could be any topic"
        return;
      }
      for (const topic of subscribed) topics.add(topic);
    }
    this.subscribedTopics = topics;
  }

  clearJoinTimer(): void {
    this.joinTimer?.cancel();
    this.joinTimer = null;
    this.initialDelay = false;
  }

  clearSyncTimer(): void {
    this.syncTimer?.cancel();
    this.syncTimer = null;
  }
}
