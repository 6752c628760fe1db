// Who is in a group: JoinGroup (new members, KIP-394 pending members, KIP-345 static members coming
// back under a new id), SyncGroup, Heartbeat and LeaveGroup, and the member checks of OffsetCommit and
// TxnOffsetCommit. Each request is checked against the group and turned into an event of the state
// machine (state-machine.ts), which owns the timers and the transitions; nothing here calls back up.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Clock, Logger, Timers } from '../services.js';
import type { Group } from './group.js';
import type { GroupTable } from './group-table.js';
import { GROUP_ID_LENGTH_MAX, type GroupSettings } from './limits.js';
import { Member, type JoinCallback, type JoinResult, type SyncCallback, type SyncResult } from './member.js';
import type { OffsetsStore } from './offsets-store.js';
import { joinError, syncError, type CommitRequest, type JoinRequest, type MemberIdentity } from './requests.js';
import type { SyncRequest } from './requests.js';
import type { GroupStateMachine } from './state-machine.js';

export class Membership {
  constructor(
    private readonly table: GroupTable,
    private readonly machine: GroupStateMachine,
    private readonly store: OffsetsStore,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  // ── JoinGroup ───────────────────────────────────────────────────────────────────────────────

  /** JoinGroup, checked and parked until the rebalance completes (the caller checked the coordinator is open). */
  join(request: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => this.doJoin(request, resolve));
  }

  private doJoin(request: JoinRequest, respond: JoinCallback): void {
    const { groupId, memberId } = request;
    if (groupId.length === 0 || groupId.length > GROUP_ID_LENGTH_MAX)
      return respond(joinError(memberId, ErrorCode.INVALID_GROUP_ID));
    if (
      request.sessionTimeoutMs < this.settings.minSessionTimeoutMs ||
      request.sessionTimeoutMs > this.settings.maxSessionTimeoutMs
    ) {
      return respond(joinError(memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isNewMember = memberId.length === 0;
    let group = this.table.get(groupId);
    if (!group) {
      if (!isNewMember) return respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      if (!this.table.canAdd()) return respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      group = this.table.add(groupId);
    }
    if (group.is('Dead')) return respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      respond(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      this.table.removeIfUnused(group);
      return;
    }
    const alreadyIn = !isNewMember && (group.members.has(memberId) || group.pendingMembers.has(memberId));
    const replacingStatic = request.groupInstanceId !== null && group.staticMembers.has(request.groupInstanceId);
    if (!alreadyIn && !replacingStatic && group.size >= this.settings.groupMaxSize) {
      return respond(joinError(memberId, ErrorCode.GROUP_MAX_SIZE_REACHED));
    }
    if (isNewMember) this.doNewMemberJoin(group, request, respond);
    else this.doCurrentMemberJoin(group, request, respond);
  }

  private doNewMemberJoin(group: Group, request: JoinRequest, respond: JoinCallback): void {
    const newMemberId = `${request.clientId}-${randomUUID()}`;
    if (request.groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(request.groupInstanceId);
      if (oldMemberId !== undefined) this.replaceStaticMember(group, oldMemberId, newMemberId, request, respond);
      else this.addMemberAndRebalance(group, newMemberId, request, respond);
    } else if (request.requireKnownMemberId) {
      // KIP-394: hand out the id, and only count the member once it comes back with it.
      const expiry = this.timers.after(request.sessionTimeoutMs, () => {
        if (group.pendingMembers.get(newMemberId) !== expiry) return;
        group.pendingMembers.delete(newMemberId);
        if (group.is('PreparingRebalance')) this.machine.tryCompleteJoin(group);
        this.table.removeIfUnused(group);
      });
      group.pendingMembers.set(newMemberId, expiry);
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, request, respond);
    }
  }

  private doCurrentMemberJoin(group: Group, request: JoinRequest, respond: JoinCallback): void {
    const { memberId } = request;
    const pending = group.pendingMembers.get(memberId);
    if (pending !== undefined) {
      pending.cancel();
      group.pendingMembers.delete(memberId);
      this.addMemberAndRebalance(group, memberId, request, respond);
      return;
    }
    if (group.isStaticMemberFenced(memberId, request.groupInstanceId))
      return respond(joinError(memberId, ErrorCode.FENCED_INSTANCE_ID));
    const member = group.members.get(memberId);
    if (!member) return respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, request, respond);
        break;
      case 'CompletingRebalance':
        // The join answer was probably lost: same metadata → the same answer again.
        if (member.matches(request.protocols)) respond(group.joinResultFor(member, member.memberId === group.leaderId));
        else this.updateMemberAndRebalance(group, member, request, respond);
        break;
      case 'Stable':
        // A follower rejoining with unchanged metadata gets the current generation; the leader
        // rejoining (e.g. it saw a metadata change) or a changed subscription starts a rebalance.
        if (memberId === group.leaderId || !member.matches(request.protocols))
          this.updateMemberAndRebalance(group, member, request, respond);
        else respond(group.joinResultFor(member, false));
        break;
      default:
        respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, request: JoinRequest, respond: JoinCallback): void {
    const member = new Member(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.clientHost,
      request.rebalanceTimeoutMs,
      request.sessionTimeoutMs,
      request.protocolType,
      request.protocols,
    );
    member.isNew = true;
    member.awaitingJoin = respond;
    group.add(member);
    if (group.is('PreparingRebalance') && group.initialDelay) group.newMemberAdded = true;
    this.machine.startSession(group, member, this.settings.newMemberJoinTimeoutMs);
    if (group.is('PreparingRebalance')) this.machine.tryCompleteJoin(group);
    else this.machine.prepareRebalance(group, `member ${memberId} joined`);
  }

  private updateMemberAndRebalance(group: Group, member: Member, request: JoinRequest, respond: JoinCallback): void {
    // A second JoinGroup from the same member replaces the first; the first is told to rejoin.
    member.answerJoin(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    member.protocols = request.protocols;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    member.awaitingJoin = respond;
    if (group.is('PreparingRebalance')) this.machine.tryCompleteJoin(group);
    else this.machine.prepareRebalance(group, `member ${member.memberId} rejoined`);
  }

  /** KIP-345: a static member came back under a new member id; the old id is fenced. */
  private replaceStaticMember(
    group: Group,
    oldMemberId: string,
    newMemberId: string,
    request: JoinRequest,
    respond: JoinCallback,
  ): void {
    const old = group.members.get(oldMemberId)!;
    old.answerJoin(joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    old.answerSync(syncError(ErrorCode.FENCED_INSTANCE_ID));
    const previousLeader = group.leaderId;
    const previousProtocols = old.protocols;
    const member = group.replaceMemberId(oldMemberId, newMemberId);
    member.protocols = request.protocols;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    this.machine.startSession(group, member, member.sessionTimeoutMs);
    this.logger.info(
      {
        component: 'groups',
        groupId: group.groupId,
        groupInstanceId: request.groupInstanceId,
        oldMemberId,
        newMemberId,
        state: group.state,
      },
      'static member replaced',
    );
    switch (group.state) {
      case 'Stable': {
        if (group.selectProtocol() !== group.protocolName) {
          member.awaitingJoin = respond;
          this.machine.prepareRebalance(group, `static member ${newMemberId} changed protocols`);
          return;
        }
        // Same protocol: no rebalance. Persist the new id, then answer with the current generation.
        // The leader id returned is the old one, so a replaced leader does not recompute an
        // assignment that a Stable group would never send out.
        const generation = group.generationId;
        this.store.writeGroup(group, null, this.clock.now()).then(
          () =>
            respond({
              errorCode: ErrorCode.NONE,
              generationId: generation,
              protocolType: group.protocolType,
              protocolName: group.protocolName,
              leaderId: previousLeader ?? '',
              memberId: newMemberId,
              members: [],
            }),
          (error: unknown) => {
            this.logger.error(
              { component: 'groups', groupId: group.groupId, error: String(error) },
              'static member replacement not stored',
            );
            // Put the old id back, as Kafka does, and let the member retry.
            if (group.members.get(newMemberId) === member) {
              group.replaceMemberId(newMemberId, oldMemberId);
              member.protocols = previousProtocols;
            }
            respond(joinError(newMemberId, ErrorCode.UNKNOWN_SERVER_ERROR));
          },
        );
        return;
      }
      case 'CompletingRebalance':
        // The leader may be assigning to the old id: start over.
        member.awaitingJoin = respond;
        this.machine.prepareRebalance(group, `static member ${newMemberId} replaced during sync`);
        return;
      case 'PreparingRebalance':
        member.awaitingJoin = respond;
        this.machine.tryCompleteJoin(group);
        return;
      default:
        respond(joinError(newMemberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  // ── SyncGroup ───────────────────────────────────────────────────────────────────────────────

  /** SyncGroup: a follower's parks until the leader's assignment is stored (the caller checked the
   *  coordinator is open). */
  sync(request: SyncRequest): Promise<SyncResult> {
    return new Promise((resolve) => this.doSync(request, resolve));
  }

  private doSync(request: SyncRequest, respond: SyncCallback): void {
    if (request.groupId.length === 0) return respond(syncError(ErrorCode.INVALID_GROUP_ID));
    const group = this.table.get(request.groupId);
    if (!group) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is('Dead')) return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId))
      return respond(syncError(ErrorCode.FENCED_INSTANCE_ID));
    const member = group.members.get(request.memberId);
    if (!member) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (request.generationId !== group.generationId) return respond(syncError(ErrorCode.ILLEGAL_GENERATION));
    if (
      (request.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group.protocolName)
    ) {
      return respond(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        member.answerSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        member.awaitingSync = respond;
        group.pendingSync.delete(member.memberId);
        this.machine.startSession(group, member, member.sessionTimeoutMs);
        if (member.memberId === group.leaderId) this.machine.assignmentReceived(group, request.assignments);
        return;
      }
      case 'Stable':
        group.pendingSync.delete(member.memberId);
        this.machine.startSession(group, member, member.sessionTimeoutMs);
        return respond({
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
      default:
        return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  // ── Heartbeat, LeaveGroup ───────────────────────────────────────────────────────────────────

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (groupId.length === 0) return ErrorCode.INVALID_GROUP_ID;
    const group = this.table.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.machine.startSession(group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.machine.startSession(group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
    }
  }

  /** LeaveGroup: `errorCode` is the group-level error; each member has its own. */
  leave(
    groupId: string,
    identities: MemberIdentity[],
  ): { errorCode: number; members: Array<MemberIdentity & { errorCode: number }> } {
    if (groupId.length === 0) return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const group = this.table.get(groupId);
    if (!group)
      return {
        errorCode: ErrorCode.NONE,
        members: identities.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      };
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const results = identities.map((identity) => {
      let memberId = identity.memberId;
      if (identity.groupInstanceId !== null) {
        const registered = group.staticMembers.get(identity.groupInstanceId);
        if (registered === undefined) return { ...identity, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
        if (memberId.length > 0 && memberId !== registered)
          return { ...identity, errorCode: ErrorCode.FENCED_INSTANCE_ID };
        memberId = registered;
      } else {
        const pending = group.pendingMembers.get(memberId);
        if (pending !== undefined) {
          pending.cancel();
          group.pendingMembers.delete(memberId);
          if (group.is('PreparingRebalance')) this.machine.tryCompleteJoin(group);
          return { ...identity, errorCode: ErrorCode.NONE };
        }
      }
      const member = group.members.get(memberId);
      if (!member) return { ...identity, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      this.logger.info(
        { component: 'groups', groupId, memberId, groupInstanceId: identity.groupInstanceId },
        'member left',
      );
      this.machine.removeMember(group, member);
      return { ...identity, errorCode: ErrorCode.NONE };
    });
    this.table.removeIfUnused(group);
    return { errorCode: ErrorCode.NONE, members: results };
  }

  // ── the member checks of offset commits ─────────────────────────────────────────────────────

  /** OffsetCommit: may this member commit to the group now? A member's commit counts as a heartbeat. */
  commitError(group: Group, request: CommitRequest): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (request.generationId < 0 && group.is('Empty')) return ErrorCode.NONE;
    const member = group.members.get(request.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    // Stable or PreparingRebalance: the commit counts as a heartbeat; a member learns of the
    // rebalance from its next heartbeat.
    this.machine.startSession(group, member, member.sessionTimeoutMs);
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit: without a generation (v0-2, or -1) the commit is not checked against the group's
   * members, as in Kafka; with one (v3+) the member and generation must match.
   */
  transactionalCommitError(group: Group, request: CommitRequest): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (request.generationId >= 0 || request.memberId !== '') {
      if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
      if (!group.members.has(request.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    }
    return ErrorCode.NONE;
  }
}
