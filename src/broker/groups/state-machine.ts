// When a classic group changes state (group.ts holds the states and which transitions are legal), and
// every timer that drives it: member sessions, the rebalance (join) timeout, the initial rebalance delay
// and the sync timeout. Membership (membership.ts) turns requests into the events this file reacts to.
//
// A rebalance, as in Kafka:
//   1. A join, leave or session expiry moves the group to PreparingRebalance. Members learn it from
//      REBALANCE_IN_PROGRESS on Heartbeat and send JoinGroup again; each JoinGroup is parked.
//   2. When every member has rejoined (or the largest rebalance timeout passed — members that did
//      not rejoin are removed), the generation goes up, a protocol is chosen by vote, every parked
//      JoinGroup is answered (the leader's answer lists the members) → CompletingRebalance.
//      An Empty group first waits `group.initial.rebalance.delay.ms` (extended while members keep
//      arriving, up to the rebalance timeout) so a starting fleet lands in one generation.
//   3. Followers' SyncGroups park; the leader's SyncGroup carries the assignment, which is stored,
//      then handed to everyone → Stable. A member that has not synced within the rebalance timeout
//      is removed (and the group rebalances).
// Every member's session timer restarts on Heartbeat/JoinGroup/SyncGroup/OffsetCommit; when it
// fires the member is removed and the group rebalances.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Clock, Logger, Timers } from '../services.js';
import type { Group } from './group.js';
import type { GroupTable } from './group-table.js';
import type { GroupSettings } from './limits.js';
import type { Member } from './member.js';
import type { OffsetsStore } from './offsets-store.js';
import { EMPTY, joinError, syncError } from './requests.js';

export class GroupStateMachine {
  private closed = false;

  constructor(
    private readonly table: GroupTable,
    private readonly store: OffsetsStore,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** Stops every timer; parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR so clients look again. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of this.table.values()) this.abandon(group);
  }

  /** Stops a group's timers and answers its parked JoinGroup/SyncGroup requests NOT_COORDINATOR: this
   *  broker no longer coordinates it (closing, or its partition moved to another broker). */
  abandon(group: Group): void {
    group.clearJoinTimer();
    group.clearSyncTimer();
    for (const t of group.pendingMembers.values()) t.cancel();
    for (const member of group.members.values()) {
      member.stopSessionTimer();
      member.answerJoin(joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
      member.answerSync(syncError(ErrorCode.NOT_COORDINATOR));
    }
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  /** (Re)starts a member's session: when it fires without a heartbeat in between, the member is removed. */
  startSession(group: Group, member: Member, timeoutMs: number): void {
    member.stopSessionTimer();
    if (this.closed) return;
    member.sessionTimer = this.timers.after(timeoutMs, () => this.onSessionExpired(group, member));
  }

  private onSessionExpired(group: Group, member: Member): void {
    member.sessionTimer = null;
    if (group.members.get(member.memberId) !== member) return;
    // A known member parked in JoinGroup or SyncGroup is alive by definition (Kafka's
    // hasSatisfiedHeartbeat); only a new member can expire while waiting for its first join.
    if (!member.isNew && (member.awaitingJoin !== null || member.awaitingSync !== null)) {
      this.startSession(group, member, member.sessionTimeoutMs);
      return;
    }
    this.logger.info(
      { component: 'groups', groupId: group.groupId, memberId: member.memberId, generationId: group.generationId },
      'member session expired',
    );
    this.removeMember(group, member);
  }

  /** A member left or expired: it is told UNKNOWN_MEMBER_ID if it waits, and the group rebalances. */
  removeMember(group: Group, member: Member): void {
    member.answerJoin(joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    member.answerSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group, `member ${member.memberId} left`);
        break;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ── PreparingRebalance ──────────────────────────────────────────────────────────────────────

  prepareRebalance(group: Group, reason: string): void {
    if (!(group.is('Stable') || group.is('CompletingRebalance') || group.is('Empty'))) return;
    if (group.is('CompletingRebalance')) {
      for (const member of group.members.values()) member.answerSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    group.clearSyncTimer();
    group.pendingSync.clear();
    const initial = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.clock.now());
    group.clearJoinTimer();
    this.logger.info(
      { component: 'groups', groupId: group.groupId, generationId: group.generationId, reason },
      'preparing to rebalance',
    );
    if (initial && this.settings.initialRebalanceDelayMs > 0) {
      const rebalanceTimeoutMs = group.rebalanceTimeoutMs;
      const delay = Math.min(this.settings.initialRebalanceDelayMs, rebalanceTimeoutMs);
      this.scheduleInitialDelay(group, delay, Math.max(rebalanceTimeoutMs - delay, 0));
    } else {
      group.joinTimer = this.timers.after(group.rebalanceTimeoutMs, () => {
        group.joinTimer = null;
        if (group.is('PreparingRebalance')) this.completeJoin(group);
      });
      this.tryCompleteJoin(group);
    }
  }

  private scheduleInitialDelay(group: Group, delayMs: number, remainingMs: number): void {
    group.newMemberAdded = false;
    group.initialDelay = true;
    group.joinTimer = this.timers.after(delayMs, () => {
      group.joinTimer = null;
      group.initialDelay = false;
      if (!group.is('PreparingRebalance')) return;
      if (group.newMemberAdded && remainingMs > 0) {
        const next = Math.min(this.settings.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelay(group, next, Math.max(remainingMs - next, 0));
      } else {
        this.completeJoin(group);
      }
    });
  }

  /** Completes the join phase now if nobody is missing (and the initial delay is not running). */
  tryCompleteJoin(group: Group): void {
    if (group.is('PreparingRebalance') && !group.initialDelay && group.hasAllMembersJoined()) this.completeJoin(group);
  }

  /** End of PreparingRebalance: drop members that did not rejoin, start the next generation. */
  private completeJoin(group: Group): void {
    group.clearJoinTimer();
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === null) {
        this.logger.info(
          { component: 'groups', groupId: group.groupId, memberId: member.memberId },
          'member did not rejoin in time: removed',
        );
        member.answerSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        group.remove(member.memberId);
      }
    }
    const now = this.clock.now();
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.subscribedTopics = null;
      group.transitionTo('Empty', now);
      this.logger.info(
        { component: 'groups', groupId: group.groupId, generationId: group.generationId },
        'group is empty',
      );
      if (group.offsets.size === 0) {
        this.table.remove(group);
        return;
      }
      this.store
        .writeGroup(group, null, this.clock.now())
        .catch((error: unknown) =>
          this.logger.error(
            { component: 'groups', groupId: group.groupId, error: String(error) },
            'empty group not stored',
          ),
        );
      return;
    }
    if (group.leaderId === null || !group.members.has(group.leaderId))
      group.leaderId = group.members.keys().next().value!;
    group.protocolName = group.selectProtocol();
    group.updateSubscribedTopics();
    group.transitionTo('CompletingRebalance', now);
    this.logger.info(
      {
        component: 'groups',
        groupId: group.groupId,
        generationId: group.generationId,
        protocol: group.protocolName,
        members: group.members.size,
      },
      'rebalance: generation complete, awaiting sync',
    );
    for (const member of group.members.values()) {
      group.pendingSync.add(member.memberId);
      member.answerJoin(group.joinResultFor(member, member.memberId === group.leaderId));
      member.isNew = false;
      this.startSession(group, member, member.sessionTimeoutMs);
    }
    const generation = group.generationId;
    group.syncTimer = this.timers.after(group.rebalanceTimeoutMs, () => {
      group.syncTimer = null;
      if (group.generationId !== generation || group.pendingSync.size === 0) return;
      if (!(group.is('CompletingRebalance') || group.is('Stable'))) return;
      for (const memberId of [...group.pendingSync]) {
        const member = group.members.get(memberId);
        this.logger.info(
          { component: 'groups', groupId: group.groupId, memberId },
          'member did not sync in time: removed',
        );
        if (member) {
          member.answerSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
          group.remove(memberId);
        }
      }
      this.prepareRebalance(group, 'members did not sync in time');
    });
  }

  // ── CompletingRebalance → Stable ────────────────────────────────────────────────────────────

  /** The leader's SyncGroup: its assignment is stored, then handed to every member (→ Stable). */
  assignmentReceived(group: Group, given: ReadonlyArray<{ memberId: string; assignment: Buffer }>): void {
    const assignments = new Map<string, Buffer>();
    for (const a of given) if (group.members.has(a.memberId)) assignments.set(a.memberId, a.assignment);
    for (const memberId of group.members.keys()) if (!assignments.has(memberId)) assignments.set(memberId, EMPTY);
    const generation = group.generationId;
    this.store.writeGroup(group, assignments, this.clock.now()).then(
      () => this.propagateAssignment(group, generation, assignments, ErrorCode.NONE),
      (error: unknown) => {
        this.logger.error(
          { component: 'groups', groupId: group.groupId, error: String(error) },
          'group assignment not stored',
        );
        this.propagateAssignment(group, generation, assignments, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      },
    );
  }

  private propagateAssignment(
    group: Group,
    generation: number,
    assignments: Map<string, Buffer>,
    errorCode: number,
  ): void {
    // The group may have moved on while the record was being written (a member left): then the
    // rebalance that followed already told the waiting members to rejoin.
    if (!group.is('CompletingRebalance') || group.generationId !== generation) return;
    if (errorCode !== ErrorCode.NONE) {
      for (const member of group.members.values()) member.answerSync(syncError(errorCode));
      this.prepareRebalance(group, 'storing the assignment failed');
      return;
    }
    for (const member of group.members.values()) {
      member.assignment = assignments.get(member.memberId) ?? EMPTY;
      member.answerSync({
        errorCode: ErrorCode.NONE,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        assignment: member.assignment,
      });
    }
    group.transitionTo('Stable', this.clock.now());
    if (group.pendingSync.size === 0) group.clearSyncTimer();
    this.logger.info(
      { component: 'groups', groupId: group.groupId, generationId: generation, members: group.members.size },
      'group stable',
    );
  }
}
