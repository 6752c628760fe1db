// The classic group coordinator (Kafka's GroupCoordinator before KIP-848): membership, rebalances,
// and committed offsets for every group. This node coordinates every group; group state is kept in
// memory and written to `__consumer_offsets` (offsets-store.ts) at the points Kafka writes it:
// the leader's SyncGroup (assignment), a rebalance that ends Empty, a static member replaced while
// Stable, OffsetCommit, and deletions/expiry (tombstones). Each write is awaited before the answer.
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
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Logger } from '../logger.js';
import { Group, type GroupState } from './group.js';
import { groupSettingsFrom, GROUP_ID_LENGTH_MAX, type GroupSettings } from './limits.js';
import {
  Member,
  type JoinCallback,
  type JoinResult,
  type Protocol,
  type SyncCallback,
  type SyncResult,
} from './member.js';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  partitionForGroup,
  type CommittedOffset,
  type StoredGroup,
} from './offsets-records.js';
import { OFFSETS_TOPIC, OffsetsStore, type OffsetsRecord, type OffsetsTopicHost } from './offsets-store.js';

export interface Clock {
  now(): number;
}

export interface GroupHost extends OffsetsTopicHost {
  readonly config: { properties: Record<string, string> };
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+ without an instance id: answer a new member MEMBER_ID_REQUIRED first (KIP-394). */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

export interface CommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retention_time_ms; -1 = the broker's offsets.retention.minutes. */
  retentionTimeMs: number;
  topics: Array<{
    name: string;
    partitions: Array<{ partition: number; offset: number; leaderEpoch: number; metadata: string | null }>;
  }>;
}

export interface PartitionError {
  partition: number;
  errorCode: number;
}

export interface FetchedOffset {
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  state: GroupState;
  /** Not in DescribeGroups; for tests and the console. -1 for an unknown group. */
  generationId: number;
  protocolType: string;
  protocolData: string;
  members: Array<{
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }>;
}

const EMPTY = Buffer.alloc(0);
/** Offsets are safe integers inside Sluice; a commit of one beyond 2^53 (the handlers' Number() of an
 *  INT64 near Long.MAX_VALUE) cannot be stored exactly, so it is refused as a commit the coordinator
 *  cannot store, per partition. */
const UNSTORABLE_OFFSET = ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
const systemClock: Clock = { now: () => Date.now() };

function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leaderId: '', memberId, members: [] };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** A timer that does not keep the process alive (the broker's close() clears them anyway). */
function timer(ms: number, fn: () => void): NodeJS.Timeout {
  const t = setTimeout(fn, Math.max(0, ms));
  t.unref();
  return t;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private offsetCount = 0;
  /** TxnOffsetCommit offsets of open transactions: producerId → groupId → topic/partition → offset. */
  private readonly pendingTransactional = new Map<
    number,
    Map<string, Map<string, { topic: string; partition: number; value: CommittedOffset }>>
  >();
  private retentionTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly store: OffsetsStore,
    readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Reads the settings, loads every group from `__consumer_offsets` (if it exists) and starts offset expiry. */
  static async open(host: GroupHost, options: { clock?: Clock } = {}): Promise<GroupCoordinator> {
    const settings = groupSettingsFrom(host.config.properties);
    const coordinator = new GroupCoordinator(
      new OffsetsStore(host, settings.offsetsTopicPartitions),
      settings,
      host.logger,
      options.clock ?? systemClock,
    );
    await coordinator.load();
    coordinator.retentionTimer = setInterval(
      () =>
        void coordinator
          .expireOffsets()
          .catch((error: unknown) =>
            coordinator.logger.error({ component: 'groups', error: String(error) }, 'offset expiry failed'),
          ),
      settings.offsetsRetentionCheckIntervalMs,
    );
    coordinator.retentionTimer.unref();
    return coordinator;
  }

  /** Stops every timer; parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR so clients look again. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer);
    for (const group of this.groups.values()) {
      group.clearJoinTimer();
      group.clearSyncTimer();
      for (const t of group.pendingMembers.values()) clearTimeout(t);
      for (const member of group.members.values()) {
        member.stopSessionTimer();
        this.answerJoin(member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
        this.answerSync(member, syncError(ErrorCode.NOT_COORDINATOR));
      }
    }
  }

  /** Makes sure `__consumer_offsets` exists (FindCoordinator does this, as in Kafka). */
  async ensureReady(): Promise<boolean> {
    try {
      await this.store.ensureTopic();
      return true;
    } catch (error) {
      this.logger.error({ component: 'groups', error: String(error) }, 'offsets topic unavailable');
      return false;
    }
  }

  // ── loading ─────────────────────────────────────────────────────────────────────────────────

  private async load(): Promise<void> {
    const stored = new Map<string, { group: StoredGroup | null; offsets: Map<string, Map<number, CommittedOffset>> }>();
    const entry = (groupId: string) => {
      let e = stored.get(groupId);
      if (!e) stored.set(groupId, (e = { group: null, offsets: new Map() }));
      return e;
    };
    let records = 0;
    // Records of transactional offset commits wait, per partition and producer, for their marker:
    // COMMIT applies them at the marker's place in the log, ABORT drops them (Kafka does the same).
    const pendingLoaded = new Map<string, Array<OffsetsRecord & { partition: number; offset: number }>>();
    const apply = (record: OffsetsRecord & { partition: number; offset: number }) => {
      let key;
      try {
        key = decodeKey(record.key);
      } catch (error) {
        this.logger.warn(
          { component: 'groups', partition: record.partition, offset: record.offset, error: String(error) },
          'unreadable offsets record key skipped',
        );
        return;
      }
      if (key === null) return;
      const e = entry(key.group);
      try {
        if (key.kind === 'offset') {
          let partitions = e.offsets.get(key.topic);
          if (record.value === null) {
            partitions?.delete(key.partition);
          } else {
            if (!partitions) e.offsets.set(key.topic, (partitions = new Map()));
            partitions.set(key.partition, decodeOffsetValue(record.value));
          }
        } else {
          e.group = record.value === null ? null : decodeGroupValue(record.value);
        }
      } catch (error) {
        this.logger.warn(
          { component: 'groups', partition: record.partition, offset: record.offset, error: String(error) },
          'unreadable offsets record value skipped',
        );
      }
    };
    for await (const record of this.store.readAll()) {
      records++;
      const producerKey = `${record.partition}:${record.transactionalProducerId}`;
      if (record.marker !== undefined) {
        const pending = pendingLoaded.get(producerKey) ?? [];
        pendingLoaded.delete(producerKey);
        if (record.marker === 'commit') for (const waiting of pending) apply(waiting);
        continue;
      }
      if (record.transactionalProducerId >= 0) {
        let pending = pendingLoaded.get(producerKey);
        if (!pending) pendingLoaded.set(producerKey, (pending = []));
        pending.push(record);
        continue;
      }
      apply(record);
    }
    // Transactions still open (their coordinator completes or aborts them after it loads).
    for (const [producerKey, pending] of pendingLoaded) {
      const producerId = Number(producerKey.slice(producerKey.indexOf(':') + 1));
      for (const record of pending) {
        try {
          const key = decodeKey(record.key);
          if (key === null || key.kind !== 'offset' || record.value === null) continue;
          this.addPendingTransactional(
            producerId,
            key.group,
            key.topic,
            key.partition,
            decodeOffsetValue(record.value),
          );
        } catch (error) {
          this.logger.warn(
            { component: 'groups', partition: record.partition, offset: record.offset, error: String(error) },
            'unreadable transactional offsets record skipped',
          );
        }
      }
    }
    const now = this.clock.now();
    for (const [groupId, e] of stored) {
      for (const [topic, partitions] of e.offsets) if (partitions.size === 0) e.offsets.delete(topic);
      if (e.group === null && e.offsets.size === 0) continue;
      const group = new Group(
        groupId,
        e.group && e.group.currentStateTimestamp >= 0 ? e.group.currentStateTimestamp : now,
      );
      for (const [topic, partitions] of e.offsets) group.offsets.set(topic, partitions);
      this.offsetCount += group.offsetCount;
      if (e.group !== null) {
        group.stored = true;
        group.generationId = e.group.generation;
        group.protocolType = e.group.protocolType.length > 0 ? e.group.protocolType : null;
        group.protocolName = e.group.protocol;
        for (const m of e.group.members) {
          const protocols = group.protocolName === null ? [] : [{ name: group.protocolName, metadata: m.subscription }];
          const member = new Member(
            m.memberId,
            m.groupInstanceId,
            m.clientId,
            m.clientHost,
            m.rebalanceTimeoutMs,
            m.sessionTimeoutMs,
            e.group.protocolType,
            protocols,
          );
          member.assignment = m.assignment;
          group.add(member);
        }
        group.leaderId = e.group.leader !== null && group.members.has(e.group.leader) ? e.group.leader : group.leaderId;
        if (group.members.size > 0) {
          // As Kafka: a loaded group with members is Stable; members that do not heartbeat within
          // their session timeout are removed and the group rebalances.
          group.state = 'Stable';
          group.updateSubscribedTopics();
          for (const member of group.members.values()) this.startSession(group, member, member.sessionTimeoutMs);
        }
      }
      this.groups.set(groupId, group);
    }
    if (records > 0)
      this.logger.info(
        { component: 'groups', records, groups: this.groups.size, offsets: this.offsetCount },
        'groups loaded',
      );
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  private answerJoin(member: Member, result: JoinResult): void {
    const callback = member.awaitingJoin;
    member.awaitingJoin = null;
    callback?.(result);
  }

  private answerSync(member: Member, result: SyncResult): void {
    const callback = member.awaitingSync;
    member.awaitingSync = null;
    callback?.(result);
  }

  /** (Re)starts a member's session: when it fires without a heartbeat in between, the member is removed. */
  private startSession(group: Group, member: Member, timeoutMs: number): void {
    member.stopSessionTimer();
    if (this.closed) return;
    member.sessionTimer = timer(timeoutMs, () => this.onSessionExpired(group, member));
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
    this.removeMemberAndUpdateGroup(group, member);
  }

  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    this.answerJoin(member, joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
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

  /** Room for one more group: evicts Empty groups without offsets first (they hold nothing worth keeping). */
  private canAddGroup(): boolean {
    if (this.groups.size < this.settings.groupsMax) return true;
    for (const group of [...this.groups.values()])
      if (group.is('Empty') && group.offsets.size === 0) this.removeGroup(group);
    if (this.groups.size < this.settings.groupsMax) return true;
    this.logger.warn(
      { component: 'groups', groups: this.groups.size, limit: this.settings.groupsMax },
      'sluice.groups.max reached: new group refused',
    );
    return false;
  }

  private addGroup(groupId: string): Group {
    const group = new Group(groupId, this.clock.now());
    this.groups.set(groupId, group);
    return group;
  }

  /** Drops a group (→ Dead); writes the tombstone of its metadata when it had stored any. */
  private removeGroup(group: Group): void {
    group.transitionTo('Dead', this.clock.now());
    group.clearJoinTimer();
    group.clearSyncTimer();
    this.groups.delete(group.groupId);
    this.offsetCount -= group.offsetCount;
    if (group.stored) {
      group.stored = false;
      this.store
        .append(group.groupId, [{ key: encodeGroupKey(group.groupId), value: null }], this.clock.now())
        .catch((error: unknown) => {
          this.logger.error(
            { component: 'groups', groupId: group.groupId, error: String(error) },
            'group tombstone not written',
          );
        });
    }
  }

  /** An Empty group with no offsets is of no use to anyone: remove it now rather than at the next expiry pass. */
  private maybeRemoveEmptyGroup(group: Group): void {
    if (
      group.is('Empty') &&
      group.offsets.size === 0 &&
      group.members.size === 0 &&
      group.pendingMembers.size === 0 &&
      this.groups.get(group.groupId) === group
    )
      this.removeGroup(group);
  }

  private storedGroup(group: Group, assignments: Map<string, Buffer> | null): StoredGroup {
    return {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.metadataFor(group.protocolName),
        assignment: assignments?.get(m.memberId) ?? m.assignment,
      })),
    };
  }

  private async storeGroup(group: Group, assignments: Map<string, Buffer> | null): Promise<void> {
    await this.store.append(
      group.groupId,
      [{ key: encodeGroupKey(group.groupId), value: encodeGroupValue(this.storedGroup(group, assignments)) }],
      this.clock.now(),
    );
    group.stored = true;
  }

  // ── JoinGroup ───────────────────────────────────────────────────────────────────────────────

  join(request: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => this.doJoin(request, resolve));
  }

  private doJoin(request: JoinRequest, respond: JoinCallback): void {
    const { groupId, memberId } = request;
    if (this.closed) return respond(joinError(memberId, ErrorCode.NOT_COORDINATOR));
    if (groupId.length === 0 || groupId.length > GROUP_ID_LENGTH_MAX)
      return respond(joinError(memberId, ErrorCode.INVALID_GROUP_ID));
    if (
      request.sessionTimeoutMs < this.settings.minSessionTimeoutMs ||
      request.sessionTimeoutMs > this.settings.maxSessionTimeoutMs
    ) {
      return respond(joinError(memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isNewMember = memberId.length === 0;
    let group = this.groups.get(groupId);
    if (!group) {
      if (!isNewMember) return respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      if (!this.canAddGroup()) return respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      group = this.addGroup(groupId);
    }
    if (group.is('Dead')) return respond(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      respond(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      this.maybeRemoveEmptyGroup(group);
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
      const expiry = timer(request.sessionTimeoutMs, () => {
        if (group.pendingMembers.get(newMemberId) !== expiry) return;
        group.pendingMembers.delete(newMemberId);
        if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
        this.maybeRemoveEmptyGroup(group);
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
      clearTimeout(pending);
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
        if (member.matches(request.protocols))
          respond(this.currentJoinResult(group, member, member.memberId === group.leaderId));
        else this.updateMemberAndRebalance(group, member, request, respond);
        break;
      case 'Stable':
        // A follower rejoining with unchanged metadata gets the current generation; the leader
        // rejoining (e.g. it saw a metadata change) or a changed subscription starts a rebalance.
        if (memberId === group.leaderId || !member.matches(request.protocols))
          this.updateMemberAndRebalance(group, member, request, respond);
        else respond(this.currentJoinResult(group, member, false));
        break;
      default:
        respond(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private currentJoinResult(group: Group, member: Member, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: withMembers
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.metadataFor(group.protocolName),
          }))
        : [],
    };
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
    this.startSession(group, member, this.settings.newMemberJoinTimeoutMs);
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `member ${memberId} joined`);
  }

  private updateMemberAndRebalance(group: Group, member: Member, request: JoinRequest, respond: JoinCallback): void {
    // A second JoinGroup from the same member replaces the first; the first is told to rejoin.
    this.answerJoin(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    member.protocols = request.protocols;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    member.awaitingJoin = respond;
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `member ${member.memberId} rejoined`);
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
    this.answerJoin(old, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    this.answerSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const previousLeader = group.leaderId;
    const previousProtocols = old.protocols;
    const member = group.replaceMemberId(oldMemberId, newMemberId);
    member.protocols = request.protocols;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    this.startSession(group, member, member.sessionTimeoutMs);
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
          this.prepareRebalance(group, `static member ${newMemberId} changed protocols`);
          return;
        }
        // Same protocol: no rebalance. Persist the new id, then answer with the current generation.
        // The leader id returned is the old one, so a replaced leader does not recompute an
        // assignment that a Stable group would never send out.
        const generation = group.generationId;
        this.storeGroup(group, null).then(
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
        this.prepareRebalance(group, `static member ${newMemberId} replaced during sync`);
        return;
      case 'PreparingRebalance':
        member.awaitingJoin = respond;
        this.tryCompleteJoin(group);
        return;
      default:
        respond(joinError(newMemberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (!(group.is('Stable') || group.is('CompletingRebalance') || group.is('Empty'))) return;
    if (group.is('CompletingRebalance')) {
      for (const member of group.members.values()) this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
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
      group.joinTimer = timer(group.rebalanceTimeoutMs, () => {
        group.joinTimer = null;
        if (group.is('PreparingRebalance')) this.completeJoin(group);
      });
      this.tryCompleteJoin(group);
    }
  }

  private scheduleInitialDelay(group: Group, delayMs: number, remainingMs: number): void {
    group.newMemberAdded = false;
    group.initialDelay = true;
    group.joinTimer = timer(delayMs, () => {
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

  private tryCompleteJoin(group: Group): void {
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
        this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
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
        this.removeGroup(group);
        return;
      }
      this.storeGroup(group, null).catch((error: unknown) =>
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
      this.answerJoin(member, this.currentJoinResult(group, member, member.memberId === group.leaderId));
      member.isNew = false;
      this.startSession(group, member, member.sessionTimeoutMs);
    }
    const generation = group.generationId;
    group.syncTimer = timer(group.rebalanceTimeoutMs, () => {
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
          this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
          group.remove(memberId);
        }
      }
      this.prepareRebalance(group, 'members did not sync in time');
    });
  }

  // ── SyncGroup ───────────────────────────────────────────────────────────────────────────────

  sync(request: SyncRequest): Promise<SyncResult> {
    return new Promise((resolve) => this.doSync(request, resolve));
  }

  private doSync(request: SyncRequest, respond: SyncCallback): void {
    if (this.closed) return respond(syncError(ErrorCode.NOT_COORDINATOR));
    if (request.groupId.length === 0) return respond(syncError(ErrorCode.INVALID_GROUP_ID));
    const group = this.groups.get(request.groupId);
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
        this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        member.awaitingSync = respond;
        group.pendingSync.delete(member.memberId);
        this.startSession(group, member, member.sessionTimeoutMs);
        if (member.memberId !== group.leaderId) return;
        const assignments = new Map<string, Buffer>();
        for (const a of request.assignments)
          if (group.members.has(a.memberId)) assignments.set(a.memberId, a.assignment);
        for (const memberId of group.members.keys()) if (!assignments.has(memberId)) assignments.set(memberId, EMPTY);
        const generation = group.generationId;
        this.storeGroup(group, assignments).then(
          () => this.propagateAssignment(group, generation, assignments, ErrorCode.NONE),
          (error: unknown) => {
            this.logger.error(
              { component: 'groups', groupId: group.groupId, error: String(error) },
              'group assignment not stored',
            );
            this.propagateAssignment(group, generation, assignments, ErrorCode.COORDINATOR_NOT_AVAILABLE);
          },
        );
        return;
      }
      case 'Stable':
        group.pendingSync.delete(member.memberId);
        this.startSession(group, member, member.sessionTimeoutMs);
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
      for (const member of group.members.values()) this.answerSync(member, syncError(errorCode));
      this.prepareRebalance(group, 'storing the assignment failed');
      return;
    }
    for (const member of group.members.values()) {
      member.assignment = assignments.get(member.memberId) ?? EMPTY;
      this.answerSync(member, {
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

  // ── Heartbeat, LeaveGroup ───────────────────────────────────────────────────────────────────

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    if (groupId.length === 0) return ErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(groupId);
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
        this.startSession(group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.startSession(group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
    }
  }

  /** LeaveGroup: `errorCode` is the group-level error; each member has its own. */
  leave(
    groupId: string,
    identities: MemberIdentity[],
  ): { errorCode: number; members: Array<MemberIdentity & { errorCode: number }> } {
    if (this.closed) return { errorCode: ErrorCode.NOT_COORDINATOR, members: [] };
    if (groupId.length === 0) return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(groupId);
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
          clearTimeout(pending);
          group.pendingMembers.delete(memberId);
          if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
          return { ...identity, errorCode: ErrorCode.NONE };
        }
      }
      const member = group.members.get(memberId);
      if (!member) return { ...identity, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      this.logger.info(
        { component: 'groups', groupId, memberId, groupInstanceId: identity.groupInstanceId },
        'member left',
      );
      this.removeMemberAndUpdateGroup(group, member);
      return { ...identity, errorCode: ErrorCode.NONE };
    });
    this.maybeRemoveEmptyGroup(group);
    return { errorCode: ErrorCode.NONE, members: results };
  }

  // ── offsets ─────────────────────────────────────────────────────────────────────────────────

  /**
   * OffsetCommit. Members commit with their generation; anyone may commit to an Empty group with
   * generation -1 ("simple" commits: admin tools resetting offsets, consumers without groups).
   * `topicExists` checks the partition is real so a client cannot fill memory with invented ones.
   */
  async commitOffsets(
    request: CommitRequest,
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<Array<{ name: string; partitions: PartitionError[] }>> {
    const all = (errorCode: number) =>
      request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      }));
    if (this.closed) return all(ErrorCode.NOT_COORDINATOR);
    if (request.groupId.length > GROUP_ID_LENGTH_MAX) return all(ErrorCode.INVALID_GROUP_ID);
    let group = this.groups.get(request.groupId);
    if (!group) {
      // A commit with a generation for a group we do not know comes from an older generation.
      if (request.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      if (!this.canAddGroup()) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      group = this.addGroup(request.groupId);
    }
    const groupError = this.commitGroupError(group, request);
    if (groupError !== ErrorCode.NONE) {
      this.maybeRemoveEmptyGroup(group);
      return all(groupError);
    }
    const now = this.clock.now();
    // A retention past what a timestamp can hold (clients send Long.MAX_VALUE) means: never expires.
    const expireTimestamp =
      request.retentionTimeMs >= 0 ? Math.min(now + request.retentionTimeMs, Number.MAX_SAFE_INTEGER) : null;
    const records: OffsetsRecord[] = [];
    const accepted: Array<{ topic: string; partition: number; value: CommittedOffset }> = [];
    let newEntries = 0;
    const results = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p): PartitionError => {
        if (!partitionExists(topic.name, p.partition))
          return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        const metadata = p.metadata ?? '';
        if (Buffer.byteLength(metadata) > this.settings.offsetMetadataMaxBytes)
          return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
        if (!Number.isSafeInteger(p.offset)) return { partition: p.partition, errorCode: UNSTORABLE_OFFSET };
        // Negative offsets are stored as given, as Kafka does: kafkajs's admin resetOffsets commits
        // -2/-1 (earliest/latest) and its consumers resolve them when they start.
        if (!group.offsets.get(topic.name)?.has(p.partition)) {
          if (this.offsetCount + newEntries >= this.settings.offsetsMax) {
            this.logger.warn(
              { component: 'groups', groupId: request.groupId, limit: this.settings.offsetsMax },
              'sluice.group.offsets.max reached: commit refused',
            );
            return { partition: p.partition, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
          }
          newEntries++;
        }
        const value: CommittedOffset = {
          offset: p.offset,
          leaderEpoch: p.leaderEpoch,
          metadata,
          commitTimestamp: now,
          expireTimestamp,
        };
        records.push({
          key: encodeOffsetKey(request.groupId, topic.name, p.partition),
          value: encodeOffsetValue(value),
        });
        accepted.push({ topic: topic.name, partition: p.partition, value });
        return { partition: p.partition, errorCode: ErrorCode.NONE };
      }),
    }));
    if (records.length === 0) {
      this.maybeRemoveEmptyGroup(group);
      return results;
    }
    try {
      await this.store.append(request.groupId, records, now);
    } catch (error) {
      this.logger.error(
        { component: 'groups', groupId: request.groupId, error: String(error) },
        'offset commit not stored',
      );
      const code =
        (error as { kafkaCode?: number }).kafkaCode === ErrorCode.MESSAGE_TOO_LARGE
          ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE
          : ErrorCode.COORDINATOR_NOT_AVAILABLE;
      for (const topic of results)
        for (const p of topic.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = code;
      this.maybeRemoveEmptyGroup(group);
      return results;
    }
    if (this.groups.get(request.groupId) === group) {
      for (const { topic, partition, value } of accepted) {
        let partitions = group.offsets.get(topic);
        if (!partitions) group.offsets.set(topic, (partitions = new Map()));
        if (!partitions.has(partition)) this.offsetCount++;
        partitions.set(partition, value);
      }
    }
    return results;
  }

  // ── transactional offsets (TxnOffsetCommit) ───────────────────────────────────────────────

  /** The `__consumer_offsets` partition of a group (creating the topic if needed): AddOffsetsToTxn adds it to the transaction. */
  async offsetsPartitionFor(groupId: string): Promise<number> {
    return partitionForGroup(groupId, await this.store.ensureTopic());
  }

  private addPendingTransactional(
    producerId: number,
    groupId: string,
    topic: string,
    partition: number,
    value: CommittedOffset,
  ): void {
    let byGroup = this.pendingTransactional.get(producerId);
    if (!byGroup) this.pendingTransactional.set(producerId, (byGroup = new Map()));
    let entries = byGroup.get(groupId);
    if (!entries) byGroup.set(groupId, (entries = new Map()));
    entries.set(`${topic}\u0000${partition}`, { topic, partition, value });
  }

  /**
   * TxnOffsetCommit: the offsets are written to the group's partition as a transactional batch of the
   * producer and kept aside; they become the group's committed offsets only when the transaction
   * commits (completeTransactionalOffsets), and are dropped when it aborts. The transaction
   * coordinator has checked the producer and that the group's partition is in the transaction.
   * Without a generation (v0-2, or -1) the commit is not checked against the group's members, as in
   * Kafka; with one (v3+) the member and generation must match.
   */
  async commitTransactionalOffsets(
    request: CommitRequest,
    producer: { producerId: number; producerEpoch: number },
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<Array<{ name: string; partitions: PartitionError[] }>> {
    const all = (errorCode: number) =>
      request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      }));
    if (this.closed) return all(ErrorCode.NOT_COORDINATOR);
    if (request.groupId.length > GROUP_ID_LENGTH_MAX) return all(ErrorCode.INVALID_GROUP_ID);
    let group = this.groups.get(request.groupId);
    if (!group) {
      if (!this.canAddGroup()) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      group = this.addGroup(request.groupId);
    }
    if (group.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (request.generationId >= 0 || request.memberId !== '') {
      if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId))
        return all(ErrorCode.FENCED_INSTANCE_ID);
      if (!group.members.has(request.memberId)) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      if (request.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
    }
    const now = this.clock.now();
    const records: OffsetsRecord[] = [];
    const accepted: Array<{ topic: string; partition: number; value: CommittedOffset }> = [];
    const results = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p): PartitionError => {
        if (!partitionExists(topic.name, p.partition))
          return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        const metadata = p.metadata ?? '';
        if (Buffer.byteLength(metadata) > this.settings.offsetMetadataMaxBytes)
          return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
        if (!Number.isSafeInteger(p.offset)) return { partition: p.partition, errorCode: UNSTORABLE_OFFSET };
        const value: CommittedOffset = {
          offset: p.offset,
          leaderEpoch: p.leaderEpoch,
          metadata,
          commitTimestamp: now,
          expireTimestamp: null,
        };
        records.push({
          key: encodeOffsetKey(request.groupId, topic.name, p.partition),
          value: encodeOffsetValue(value),
        });
        accepted.push({ topic: topic.name, partition: p.partition, value });
        return { partition: p.partition, errorCode: ErrorCode.NONE };
      }),
    }));
    if (records.length === 0) {
      this.maybeRemoveEmptyGroup(group);
      return results;
    }
    try {
      await this.store.append(request.groupId, records, now, producer);
    } catch (error) {
      this.logger.error(
        { component: 'groups', groupId: request.groupId, error: String(error) },
        'transactional offset commit not stored',
      );
      for (const topic of results)
        for (const p of topic.partitions)
          if (p.errorCode === ErrorCode.NONE) p.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return results;
    }
    for (const { topic, partition, value } of accepted)
      this.addPendingTransactional(producer.producerId, request.groupId, topic, partition, value);
    return results;
  }

  private hasPendingTransactional(groupId: string, topic: string, partition: number): boolean {
    for (const byGroup of this.pendingTransactional.values())
      if (byGroup.get(groupId)?.has(`${topic}\u0000${partition}`)) return true;
    return false;
  }

  /** A COMMIT or ABORT marker of `producerId` was written to `__consumer_offsets-offsetsPartition`. */
  completeTransactionalOffsets(producerId: number, offsetsPartition: number, commit: boolean): void {
    const byGroup = this.pendingTransactional.get(producerId);
    const count = this.store.partitionCount;
    if (!byGroup || count === null) return;
    for (const [groupId, entries] of byGroup) {
      if (partitionForGroup(groupId, count) !== offsetsPartition) continue;
      byGroup.delete(groupId);
      let group = this.groups.get(groupId);
      if (!commit) {
        if (group) this.maybeRemoveEmptyGroup(group);
        continue;
      }
      if (!group) {
        if (!this.canAddGroup()) continue;
        group = this.addGroup(groupId);
      }
      for (const { topic, partition, value } of entries.values()) {
        let partitions = group.offsets.get(topic);
        if (!partitions) group.offsets.set(topic, (partitions = new Map()));
        if (!partitions.has(partition)) this.offsetCount++;
        partitions.set(partition, value);
      }
    }
    if (byGroup.size === 0) this.pendingTransactional.delete(producerId);
  }

  private commitGroupError(group: Group, request: CommitRequest): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(request.memberId, request.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (request.generationId < 0 && group.is('Empty')) return ErrorCode.NONE;
    const member = group.members.get(request.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    // Stable or PreparingRebalance: the commit counts as a heartbeat; a member learns of the
    // rebalance from its next heartbeat.
    this.startSession(group, member, member.sessionTimeoutMs);
    return ErrorCode.NONE;
  }

  /**
   * OffsetFetch for one group; `topics` null means every partition the group committed. With
   * `requireStable` (v7+, KIP-447) a partition with a transactional offset commit still pending answers
   * UNSTABLE_OFFSET_COMMIT (retriable) instead of the last committed offset, so a consumer taking over
   * a partition does not start from an offset the open transaction is about to replace.
   */
  fetchOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }> | null,
    requireStable = false,
  ): { errorCode: number; topics: Array<{ name: string; partitions: FetchedOffset[] }> } {
    if (this.closed) return { errorCode: ErrorCode.NOT_COORDINATOR, topics: [] };
    const group = this.groups.get(groupId);
    const fetched = (topic: string, partition: number): FetchedOffset => {
      if (requireStable && this.hasPendingTransactional(groupId, topic, partition)) {
        return { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
      }
      const committed = group?.offsets.get(topic)?.get(partition);
      return committed
        ? {
            partition,
            offset: committed.offset,
            leaderEpoch: committed.leaderEpoch,
            metadata: committed.metadata,
            errorCode: ErrorCode.NONE,
          }
        : { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
    };
    if (topics === null) {
      const all = [...(group?.offsets ?? new Map<string, Map<number, CommittedOffset>>())].map(
        ([name, partitions]) => ({
          name,
          partitions: [...partitions.keys()].sort((a, b) => a - b).map((p) => fetched(name, p)),
        }),
      );
      return { errorCode: ErrorCode.NONE, topics: all };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => fetched(t.name, p)) })),
    };
  }

  /**
   * OffsetDelete (KIP-496): removes committed offsets of a group. Allowed for an Empty group, or for
   * topics the members of a consumer group are not subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
   */
  async deleteOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<{ errorCode: number; topics: Array<{ name: string; partitions: PartitionError[] }> }> {
    if (this.closed) return { errorCode: ErrorCode.NOT_COORDINATOR, topics: [] };
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    if (!group.is('Empty') && (group.protocolType !== 'consumer' || group.subscribedTopics === null))
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const records: OffsetsRecord[] = [];
    const removed: Array<[string, number]> = [];
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition): PartitionError => {
        if (!group.is('Empty') && group.subscribedTopics!.has(t.name))
          return { partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
        if (group.offsets.get(t.name)?.has(partition)) {
          records.push({ key: encodeOffsetKey(groupId, t.name, partition), value: null });
          removed.push([t.name, partition]);
        }
        return { partition, errorCode: ErrorCode.NONE };
      }),
    }));
    try {
      await this.store.append(groupId, records, this.clock.now());
    } catch (error) {
      this.logger.error({ component: 'groups', groupId, error: String(error) }, 'offset deletion not stored');
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
    }
    for (const [topic, partition] of removed) this.forgetOffset(group, topic, partition);
    this.maybeRemoveEmptyGroup(group);
    return { errorCode: ErrorCode.NONE, topics: results };
  }

  /** A topic was deleted: its committed offsets go too (tombstones), as Kafka's handleDeletedPartitions does. */
  async forgetTopic(topic: string): Promise<void> {
    if (this.closed || topic === OFFSETS_TOPIC) return;
    for (const group of [...this.groups.values()]) {
      const partitions = group.offsets.get(topic);
      if (!partitions) continue;
      const removed = [...partitions.keys()];
      try {
        await this.store.append(
          group.groupId,
          removed.map((partition) => ({ key: encodeOffsetKey(group.groupId, topic, partition), value: null })),
          this.clock.now(),
        );
      } catch (error) {
        this.logger.error(
          { component: 'groups', groupId: group.groupId, topic, error: String(error) },
          'offsets of a deleted topic not removed',
        );
        continue;
      }
      for (const partition of removed) this.forgetOffset(group, topic, partition);
      this.maybeRemoveEmptyGroup(group);
    }
  }

  private forgetOffset(group: Group, topic: string, partition: number): void {
    const partitions = group.offsets.get(topic);
    if (!partitions?.delete(partition)) return;
    this.offsetCount--;
    if (partitions.size === 0) group.offsets.delete(topic);
  }

  /**
   * Offset retention (KIP-211), run every offsets.retention.check.interval.ms: an Empty group's
   * offsets expire offsets.retention.minutes after it emptied (a group that never had members:
   * after the commit); a consumer group's offsets of topics it no longer subscribes to expire after
   * the commit; a commit with its own retention (OffsetCommit v2-v4) expires at its own time.
   * An Empty group left without offsets is removed.
   */
  async expireOffsets(): Promise<number> {
    if (this.closed) return 0;
    const now = this.clock.now();
    let expiredCount = 0;
    for (const group of [...this.groups.values()]) {
      let base: ((o: CommittedOffset) => number) | null = null;
      let applies: (topic: string) => boolean = () => true;
      if (group.is('Empty')) {
        base = group.protocolType !== null ? () => group.stateTimestamp : (o) => o.commitTimestamp;
      } else if (group.protocolType === 'consumer' && group.subscribedTopics !== null && group.is('Stable')) {
        const subscribed = group.subscribedTopics;
        base = (o) => o.commitTimestamp;
        applies = (topic) => !subscribed.has(topic);
      }
      if (base === null) continue;
      const expired: Array<[string, number]> = [];
      for (const [topic, partitions] of group.offsets) {
        if (!applies(topic)) continue;
        for (const [partition, o] of partitions) {
          const isExpired =
            o.expireTimestamp !== null ? now >= o.expireTimestamp : now - base(o) >= this.settings.offsetsRetentionMs;
          if (isExpired) expired.push([topic, partition]);
        }
      }
      if (expired.length > 0) {
        try {
          await this.store.append(
            group.groupId,
            expired.map(([topic, partition]) => ({
              key: encodeOffsetKey(group.groupId, topic, partition),
              value: null,
            })),
            now,
          );
        } catch (error) {
          this.logger.error(
            { component: 'groups', groupId: group.groupId, error: String(error) },
            'expired offsets not removed',
          );
          continue;
        }
        for (const [topic, partition] of expired) this.forgetOffset(group, topic, partition);
        expiredCount += expired.length;
        this.logger.info(
          { component: 'groups', groupId: group.groupId, offsets: expired.length },
          'expired offsets removed',
        );
      }
      this.maybeRemoveEmptyGroup(group);
    }
    return expiredCount;
  }

  // ── admin ───────────────────────────────────────────────────────────────────────────────────

  listGroups(statesFilter: string[]): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    return [...this.groups.values()]
      .filter((g) => !g.is('Dead') && (wanted.size === 0 || wanted.has(g.state.toLowerCase())))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }));
  }

  /** DescribeGroups: an unknown group is described as Dead with no error, as Kafka does. */
  describeGroup(groupId: string): GroupDescription {
    if (this.closed)
      return {
        errorCode: ErrorCode.NOT_COORDINATOR,
        groupId,
        state: 'Dead',
        generationId: -1,
        protocolType: '',
        protocolData: '',
        members: [],
      };
    const group = this.groups.get(groupId);
    if (!group)
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        state: 'Dead',
        generationId: -1,
        protocolType: '',
        protocolData: '',
        members: [],
      };
    const stable = group.is('Stable');
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      generationId: group.generationId,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        // Metadata and assignment only mean something once the generation is settled.
        metadata: stable ? m.metadataFor(group.protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** DeleteGroups: only an Empty group (its offsets and metadata get tombstones). */
  async deleteGroup(groupId: string): Promise<number> {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.is('Empty') || group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    const records: OffsetsRecord[] = [];
    for (const [topic, partitions] of group.offsets)
      for (const partition of partitions.keys())
        records.push({ key: encodeOffsetKey(groupId, topic, partition), value: null });
    if (group.stored) records.push({ key: encodeGroupKey(groupId), value: null });
    try {
      await this.store.append(groupId, records, this.clock.now());
    } catch (error) {
      this.logger.error({ component: 'groups', groupId, error: String(error) }, 'group deletion not stored');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    if (this.groups.get(groupId) !== group || !group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP; // a member joined meanwhile
    group.stored = false;
    for (const [topic, partitions] of [...group.offsets])
      for (const partition of [...partitions.keys()]) this.forgetOffset(group, topic, partition);
    this.removeGroup(group);
    this.logger.info({ component: 'groups', groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /** For tests and the console: how much the coordinator holds. */
  get counts(): { groups: number; offsets: number } {
    return { groups: this.groups.size, offsets: this.offsetCount };
  }

  groupState(groupId: string): GroupState | undefined {
    return this.groups.get(groupId)?.state;
  }
}
