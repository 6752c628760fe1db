// The classic group coordinator (Kafka's GroupCoordinator before KIP-848): the entry points the
// request handlers call, for membership, rebalances and committed offsets of the groups this broker
// coordinates — those whose partition of `__consumer_offsets` it leads (partition-ownership.ts: a
// partition is loaded when this broker becomes its leader, dropped when it stops; others answer
// NOT_COORDINATOR, a partition still loading COORDINATOR_LOAD_IN_PROGRESS; one node leads them all).
// Group state is kept in memory and written to `__consumer_offsets`
// (offsets-store.ts) at the points Kafka writes it: the leader's SyncGroup (assignment), a rebalance
// that ends Empty, a static member replaced while Stable, OffsetCommit, and deletions/expiry
// (tombstones). Each write is awaited before the answer.
//
// This file is the facade: it checks the coordinator is open, and hands each request to the
// collaborator that owns it. Each file imports only files listed below it (none imports this one):
//
//   coordinator.ts    open/close, loading, the API entry points, admin (list, describe, delete)
//   membership.ts     JoinGroup, SyncGroup, Heartbeat, LeaveGroup; the member checks of commits
//   state-machine.ts  rebalances and every timer (sessions, join, initial delay, sync)
//   offsets.ts        committed offsets, retention, transactional offsets
//   group-table.ts    the groups held, their limit, and the count of offsets
//   offsets-store.ts  the records of `__consumer_offsets`: writing them, loading them
//   group.ts, member.ts, requests.ts, limits.ts   the data and the shapes
//
// What the coordinator is given (dependencies.ts) is all it sees of the broker.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { PartitionOwnership } from '../partition-ownership.js';
import { systemClock, systemTimers, type Clock, type Logger, type ServiceTime } from '../services.js';
import type { Timer, Timers, TransactionalOffsets } from '../services.js';
import type { GroupDependencies } from './dependencies.js';
import { Group, type GroupState } from './group.js';
import { GroupTable } from './group-table.js';
import { GROUP_ID_LENGTH_MAX, type GroupSettings } from './limits.js';
import { Member, type JoinResult, type SyncResult } from './member.js';
import { Membership } from './membership.js';
import { GroupOffsets } from './offsets.js';
import { partitionForGroup } from './offsets-records.js';
import { OFFSETS_TOPIC, OffsetsStore, type LoadedOffsets } from './offsets-store.js';
import {
  commitError,
  EMPTY,
  joinError,
  syncError,
  type CommitRequest,
  type FetchedOffset,
  type GroupDescription,
  type JoinRequest,
  type MemberIdentity,
  type PartitionError,
  type SyncRequest,
  type TopicPartitionErrors,
} from './requests.js';
import { GroupStateMachine } from './state-machine.js';

export type {
  CommitRequest,
  FetchedOffset,
  GroupDescription,
  JoinRequest,
  MemberIdentity,
  PartitionError,
  SyncRequest,
} from './requests.js';
export type { GroupDependencies } from './dependencies.js';

export class GroupCoordinator {
  private readonly store: OffsetsStore;
  private readonly table: GroupTable;
  private readonly machine: GroupStateMachine;
  private readonly membership: Membership;
  private readonly offsets: GroupOffsets;
  private retentionTimer: Timer | null = null;
  private closed = false;
  /** Which partitions of `__consumer_offsets` this broker coordinates now. */
  private readonly ownership: PartitionOwnership;
  /** The offsets of a transaction, as the transaction coordinator sees them (services.ts). */
  readonly transactionalOffsets: TransactionalOffsets;

  private constructor(
    private readonly dependencies: GroupDependencies,
    readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
    timers: Timers,
  ) {
    const internalTopics = dependencies.internalTopics;
    const store = new OffsetsStore(internalTopics, logger, settings.offsetsTopicPartitions, () =>
      this.ownership.adoptCreated(),
    );
    this.store = store;
    this.ownership = new PartitionOwnership(
      OFFSETS_TOPIC,
      {
        partitionCount: () => store.partitionCount,
        leaderEpoch: (partition) => internalTopics.leaderEpoch(OFFSETS_TOPIC, partition),
        leaderPending: (partition) => internalTopics.leaderPending(OFFSETS_TOPIC, partition),
        isEmpty: (partition) => (internalTopics.partition(OFFSETS_TOPIC, partition)?.logEndOffset ?? 0) === 0,
      },
      {
        load: (partition, current) => this.loadPartition(partition, current),
        unload: (partition) => this.unloadPartition(partition),
      },
      logger,
      'groups',
    );
    this.table = new GroupTable(store, settings, logger, clock);
    this.machine = new GroupStateMachine(this.table, store, settings, logger, clock, timers);
    this.membership = new Membership(this.table, this.machine, store, settings, logger, clock, timers);
    this.offsets = new GroupOffsets(this.table, store, settings, logger, clock);
    this.transactionalOffsets = {
      topic: OFFSETS_TOPIC,
      partitionOf: (groupId) => this.offsetsPartitionFor(groupId),
      prepare: (request, producer, partitionExists) =>
        this.commitTransactionalOffsets(request, producer, partitionExists),
      complete: (producerId, partition, commit) => this.completeTransactionalOffsets(producerId, partition, commit),
    };
  }

  /** Loads the groups of every partition of `__consumer_offsets` this broker leads (one node: all of
   *  them) and starts offset expiry. */
  static async open(dependencies: GroupDependencies, time: ServiceTime = {}): Promise<GroupCoordinator> {
    const settings = dependencies.groupSettings;
    const timers = time.timers ?? systemTimers;
    const coordinator = new GroupCoordinator(
      dependencies,
      settings,
      dependencies.logger,
      time.clock ?? systemClock,
      timers,
    );
    await coordinator.ownership.settle();
    coordinator.retentionTimer = timers.every(
      settings.offsetsRetentionCheckIntervalMs,
      () =>
        void coordinator
          .expireOffsets()
          .catch((error: unknown) =>
            coordinator.logger.error({ component: 'groups', error: String(error) }, 'offset expiry failed'),
          ),
    );
    return coordinator;
  }

  /** Stops every timer; parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR so clients look again. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ownership.close();
    this.retentionTimer?.cancel();
    this.machine.close();
  }

  /** Leadership of `__consumer_offsets` partitions may have moved: load what is led here, drop the rest. */
  leadershipChanged(): void {
    if (!this.closed) this.ownership.refresh();
  }

  /** Loads what is led here and waits for those loads (tests; a broker that wants to answer at once). */
  settle(): Promise<void> {
    return this.ownership.settle();
  }

  /** NONE when this broker coordinates the group now; NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  private refusal(groupId: string): number {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    const partition = this.store.partitionOfNow(groupId);
    return partition < 0 ? ErrorCode.NONE : this.ownership.check(partition);
  }

  private async loadPartition(partition: number, current: () => boolean): Promise<void> {
    await this.dependencies.internalTopics.settled(OFFSETS_TOPIC, partition);
    const loaded = await this.store.load(partition);
    if (current()) this.restore(loaded, partition);
  }

  /** Drops the groups of a partition this broker no longer leads: parked requests answer NOT_COORDINATOR. */
  private unloadPartition(partition: number): void {
    const count = this.store.partitionCount;
    if (count === null) return;
    for (const group of [...this.table.values()]) {
      if (partitionForGroup(group.groupId, count) !== partition) continue;
      this.machine.abandon(group);
      this.table.drop(group);
    }
    this.offsets.dropPartition(partition, count);
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

  /** Rebuilds the groups from what a partition of `__consumer_offsets` held. */
  private restore(loaded: LoadedOffsets, partition: number): void {
    // Transactions still open (their coordinator completes or aborts them after it loads).
    for (const p of loaded.pending) this.offsets.addPending(p.producerId, p.groupId, p.topic, p.partition, p.value);
    const now = this.clock.now();
    for (const [groupId, e] of loaded.groups) {
      if (e.group === null && e.offsets.size === 0) continue;
      const group = new Group(
        groupId,
        e.group && e.group.currentStateTimestamp >= 0 ? e.group.currentStateTimestamp : now,
      );
      for (const [topic, partitions] of e.offsets) group.offsets.set(topic, partitions);
      this.table.restore(group);
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
          for (const member of group.members.values())
            this.machine.startSession(group, member, member.sessionTimeoutMs);
        }
      }
    }
    if (loaded.records > 0)
      this.logger.info(
        {
          component: 'groups',
          partition,
          records: loaded.records,
          groups: loaded.groups.size,
          offsets: this.table.offsetCount,
        },
        'groups loaded',
      );
  }

  // ── JoinGroup, SyncGroup, Heartbeat, LeaveGroup ─────────────────────────────────────────────

  join(request: JoinRequest): Promise<JoinResult> {
    const refused = this.refusal(request.groupId);
    if (refused !== ErrorCode.NONE) return Promise.resolve(joinError(request.memberId, refused));
    return this.membership.join(request);
  }

  sync(request: SyncRequest): Promise<SyncResult> {
    const refused = this.refusal(request.groupId);
    if (refused !== ErrorCode.NONE) return Promise.resolve(syncError(refused));
    return this.membership.sync(request);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const refused = this.refusal(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    return this.membership.heartbeat(groupId, memberId, groupInstanceId, generationId);
  }

  /** LeaveGroup: `errorCode` is the group-level error; each member has its own. */
  leave(
    groupId: string,
    identities: MemberIdentity[],
  ): { errorCode: number; members: Array<MemberIdentity & { errorCode: number }> } {
    const refused = this.refusal(groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, members: [] };
    return this.membership.leave(groupId, identities);
  }

  // ── offsets ─────────────────────────────────────────────────────────────────────────────────

  /**
   * OffsetCommit. Members commit with their generation; anyone may commit to an Empty group with
   * generation -1 ("simple" commits: admin tools resetting offsets, consumers without groups).
   * `partitionExists` checks the partition is real so a client cannot fill memory with invented ones.
   */
  async commitOffsets(
    request: CommitRequest,
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<TopicPartitionErrors[]> {
    const refused = this.refusal(request.groupId);
    if (refused !== ErrorCode.NONE) return commitError(request, refused);
    if (request.groupId.length > GROUP_ID_LENGTH_MAX) return commitError(request, ErrorCode.INVALID_GROUP_ID);
    let group = this.table.get(request.groupId);
    if (!group) {
      // A commit with a generation for a group we do not know comes from an older generation.
      if (request.generationId >= 0) return commitError(request, ErrorCode.ILLEGAL_GENERATION);
      if (!this.table.canAdd()) return commitError(request, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      group = this.table.add(request.groupId);
    }
    const groupError = this.membership.commitError(group, request);
    if (groupError !== ErrorCode.NONE) {
      this.table.removeIfUnused(group);
      return commitError(request, groupError);
    }
    return this.offsets.commit(group, request, partitionExists);
  }

  /** The `__consumer_offsets` partition of a group (creating the topic if needed): AddOffsetsToTxn adds it
   *  to the transaction. */
  offsetsPartitionFor(groupId: string): Promise<number> {
    return this.store.partitionOf(groupId);
  }

  /**
   * TxnOffsetCommit: stored as a transactional batch of the producer, and the group's committed offsets
   * only once the transaction commits (completeTransactionalOffsets). The transaction coordinator has
   * checked the producer and that the group's partition is in the transaction.
   */
  async commitTransactionalOffsets(
    request: CommitRequest,
    producer: { producerId: number; producerEpoch: number },
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<TopicPartitionErrors[]> {
    const refused = this.refusal(request.groupId);
    if (refused !== ErrorCode.NONE) return commitError(request, refused);
    if (request.groupId.length > GROUP_ID_LENGTH_MAX) return commitError(request, ErrorCode.INVALID_GROUP_ID);
    let group = this.table.get(request.groupId);
    if (!group) {
      if (!this.table.canAdd()) return commitError(request, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      group = this.table.add(request.groupId);
    }
    const groupError = this.membership.transactionalCommitError(group, request);
    if (groupError !== ErrorCode.NONE) return commitError(request, groupError);
    return this.offsets.commitTransactional(group, request, producer, partitionExists);
  }

  /** A COMMIT or ABORT marker of `producerId` was written to `__consumer_offsets-offsetsPartition`. */
  completeTransactionalOffsets(producerId: number, offsetsPartition: number, commit: boolean): void {
    this.offsets.complete(producerId, offsetsPartition, commit);
  }

  /** OffsetFetch for one group; `topics` null means every partition the group committed (offsets.ts). */
  fetchOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }> | null,
    requireStable = false,
  ): { errorCode: number; topics: Array<{ name: string; partitions: FetchedOffset[] }> } {
    const refused = this.refusal(groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, topics: [] };
    return this.offsets.fetch(groupId, topics, requireStable);
  }

  /** OffsetDelete (KIP-496). */
  deleteOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<{ errorCode: number; topics: Array<{ name: string; partitions: PartitionError[] }> }> {
    const refused = this.refusal(groupId);
    if (refused !== ErrorCode.NONE) return Promise.resolve({ errorCode: refused, topics: [] });
    return this.offsets.delete(groupId, topics);
  }

  /** A topic was deleted: its committed offsets go too. */
  async forgetTopic(topic: string): Promise<void> {
    if (this.closed) return;
    await this.offsets.forgetTopic(topic);
  }

  /** Offset retention (KIP-211); run every offsets.retention.check.interval.ms. */
  async expireOffsets(): Promise<number> {
    if (this.closed) return 0;
    return this.offsets.expire();
  }

  // ── admin ───────────────────────────────────────────────────────────────────────────────────

  listGroups(statesFilter: string[]): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    return [...this.table.values()]
      .filter((g) => !g.is('Dead') && (wanted.size === 0 || wanted.has(g.state.toLowerCase())))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }));
  }

  /** DescribeGroups: an unknown group is described as Dead with no error, as Kafka does. */
  describeGroup(groupId: string): GroupDescription {
    const refused = this.refusal(groupId);
    const group = refused !== ErrorCode.NONE ? undefined : this.table.get(groupId);
    if (!group)
      return {
        errorCode: refused,
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
    const refused = this.refusal(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const group = this.table.get(groupId);
    if (!group || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.is('Empty') || group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    const offsets: Array<[string, number]> = [];
    for (const [topic, partitions] of group.offsets)
      for (const partition of partitions.keys()) offsets.push([topic, partition]);
    try {
      await this.store.writeTombstones(groupId, offsets, this.clock.now(), group.stored);
    } catch (error) {
      this.logger.error({ component: 'groups', groupId, error: String(error) }, 'group deletion not stored');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    if (!this.table.holds(group) || !group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP; // a member joined meanwhile
    group.stored = false;
    for (const [topic, partitions] of [...group.offsets])
      for (const partition of [...partitions.keys()]) this.table.forgetOffset(group, topic, partition);
    this.table.remove(group);
    this.logger.info({ component: 'groups', groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /** For tests and the console: how much the coordinator holds. */
  get counts(): { groups: number; offsets: number } {
    return { groups: this.table.size, offsets: this.table.offsetCount };
  }

  groupState(groupId: string): GroupState | undefined {
    return this.table.get(groupId)?.state;
  }
}
