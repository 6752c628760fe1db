// Consumer group membership, classic protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup).
//
//   join     JoinGroup (a new member first gets MEMBER_ID_REQUIRED and its id, KIP-394, then asks
//            again); the leader computes the assignment from every member's subscription and sends
//            it in SyncGroup; each member reads its partitions from the SyncGroup answer.
//   eager    (range) every partition is revoked before joining, so nothing is consumed twice at once.
//   cooperative (cooperative-sticky) members keep consuming through the rebalance; after SyncGroup
//            a member revokes only what it lost, and if it lost anything it joins again so the
//            partitions can go to their new owner (KIP-429).
//   heartbeat every heartbeatIntervalMs; REBALANCE_IN_PROGRESS asks for a rejoin, UNKNOWN_MEMBER_ID /
//            ILLEGAL_GENERATION mean the partitions are lost (rejoin as new), FENCED_INSTANCE_ID is fatal.
//   static   with groupInstanceId the member keeps its identity across restarts and does not send
//            LeaveGroup on close, so a quick restart does not rebalance (KIP-345).
//   metadata the rejoin triggers of Kafka's ConsumerCoordinator (rejoinNeededOrPending), checked on
//            every poll with metadata at most metadataMaxAgeMs old:
//              pattern  every metadataMaxAgeMs the member lists all topics; when the topics matching
//                       its pattern change (a new topic, a deleted one), it rejoins with the new list
//              leader   when the partition count of a topic in the group's subscription differs from
//                       the count it assigned (CreatePartitions, a topic created or deleted), it
//                       rejoins, so the next assignment covers the new partitions; the others follow
//                       through REBALANCE_IN_PROGRESS. Only the leader compares counts: it alone
//                       knows every member's topics, and one rejoin is enough.
import { ApiKey } from '../protocol/generated/index.js';
import { ByteReader } from '../protocol/primitives/byte-reader.js';
import { ByteWriter } from '../protocol/primitives/byte-writer.js';
import type { JoinGroupResponse } from '../protocol/generated/join-group.js';
import type { SyncGroupResponse } from '../protocol/generated/sync-group.js';
import type { HeartbeatResponse } from '../protocol/generated/heartbeat.js';
import type { LeaveGroupResponse } from '../protocol/generated/leave-group.js';
import {
  readConsumerProtocolSubscription,
  writeConsumerProtocolSubscription,
} from '../protocol/generated/consumer-protocol-subscription.js';
import {
  readConsumerProtocolAssignment,
  writeConsumerProtocolAssignment,
} from '../protocol/generated/consumer-protocol-assignment.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { assignors, type AssignorName, type MemberSubscription } from './assignors.js';
import type { Cluster } from './cluster.js';
import { ClientOptionError, KafkaError, SluiceClientError } from './errors.js';
import { integerOption } from './options.js';

export type { AssignorName } from './assignors.js';

export interface GroupTopicPartition {
  topic: string;
  partition: number;
}

export interface GroupMemberOptions {
  groupId: string;
  topics: string[] | RegExp;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  groupInstanceId?: string;
  assignors?: AssignorName[];
}

/** Consumer protocol version written in subscriptions (v1 adds owned partitions, v2 the generation). */
const SUBSCRIPTION_VERSION = 2;
const ASSIGNMENT_VERSION = 1;

export class GroupMember {
  readonly groupId: string;
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly groupInstanceId: string | null;
  private readonly assignorNames: AssignorName[];
  private memberId = '';
  private generationId = -1;
  private protocol: AssignorName | undefined;
  private owned = new Map<string, number[]>();
  private subscribedTopics: string[] = [];
  private needsRejoin = true;
  private fatal: Error | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private rebalancing = false;
  private lastPatternCheckMs = 0;
  /**
   * Leader only: partition count of every topic of the group's subscription when it computed the
   * assignment, 0 for a topic it did not find (Kafka's assignmentSnapshot). Undefined on the others.
   */
  private assignmentSnapshot: Map<string, number> | undefined;
  private left = false;
  onRebalance:
    | {
        revoke(partitions: GroupTopicPartition[]): Promise<void>;
        assign(partitions: GroupTopicPartition[]): Promise<void>;
      }
    | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: GroupMemberOptions,
  ) {
    this.groupId = options.groupId;
    this.sessionTimeoutMs = integerOption('sessionTimeoutMs', options.sessionTimeoutMs, 45_000, 1);
    this.rebalanceTimeoutMs = integerOption('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 60_000, 1);
    this.heartbeatIntervalMs = integerOption('heartbeatIntervalMs', options.heartbeatIntervalMs, 3000, 1);
    this.groupInstanceId = options.groupInstanceId ?? null;
    this.assignorNames = options.assignors ?? ['cooperative-sticky', 'range'];
    if (this.assignorNames.length === 0 || this.assignorNames.some((name) => !(name in assignors))) {
      throw new ClientOptionError(`option assignors must list some of ${Object.keys(assignors).join(', ')}`);
    }
    if (!(options.topics instanceof RegExp) && (!Array.isArray(options.topics) || options.topics.length === 0))
      throw new ClientOptionError('subscribe() needs topic names or a RegExp');
  }

  get generation(): { generationId: number; memberId: string; groupInstanceId: string | null } {
    return { generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.groupInstanceId };
  }

  get assignment(): GroupTopicPartition[] {
    return flatten(this.owned);
  }

  /** Joins the group and applies the first assignment. */
  async join(): Promise<void> {
    await this.poll();
    this.heartbeatTimer ??= setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  /** Rebalances when needed (called from the consumer's fetch loop). */
  async poll(): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (!this.needsRejoin && !this.left && this.generationId >= 0) await this.checkMetadata();
    while (this.needsRejoin && !this.left) {
      this.needsRejoin = false;
      this.rebalancing = true;
      try {
        await this.rebalance();
      } catch (error) {
        if (error instanceof KafkaError && error.code === ErrorCode.FENCED_INSTANCE_ID) this.fatal = error;
        this.needsRejoin = true;
        throw error;
      } finally {
        this.rebalancing = false;
      }
    }
  }

  /** Marks a rejoin when the metadata says the assignment no longer covers the subscription (see the header). */
  private async checkMetadata(): Promise<void> {
    const maxAgeMs = this.cluster.metadataMaxAgeMs;
    if (this.options.topics instanceof RegExp && this.cluster.clock.now() - this.lastPatternCheckMs >= maxAgeMs) {
      // Set first: a failed listing is tried again after maxAgeMs, not on every poll.
      this.lastPatternCheckMs = this.cluster.clock.now();
      const matching = await this.matchingTopics();
      if (matching.join('\u0000') !== this.subscribedTopics.join('\u0000')) this.needsRejoin = true;
    }
    const snapshot = this.assignmentSnapshot;
    if (!snapshot) return;
    if (this.cluster.metadataAgeMs() >= maxAgeMs) await this.cluster.refreshMetadata(snapshot.keys());
    for (const [topic, count] of snapshot) {
      if ((this.cluster.topics.get(topic)?.partitions.length ?? 0) !== count) {
        this.needsRejoin = true;
        return;
      }
    }
  }

  private async matchingTopics(): Promise<string[]> {
    const topics = this.options.topics;
    if (!(topics instanceof RegExp)) return [...topics].sort();
    const all = await this.cluster.fetchAllTopics();
    return all
      .filter((t) => !t.isInternal && topics.test(t.name))
      .map((t) => t.name)
      .sort();
  }

  private async rebalance(): Promise<void> {
    this.assignmentSnapshot = undefined;
    this.lastPatternCheckMs = this.cluster.clock.now();
    this.subscribedTopics = await this.matchingTopics();
    this.cluster.addTopics(this.subscribedTopics);
    const cooperative = this.protocol !== undefined && assignors[this.protocol].cooperative;
    if (!cooperative && this.owned.size > 0) {
      // Eager: give everything back before joining.
      const all = flatten(this.owned);
      this.owned = new Map();
      await this.onRebalance?.revoke(all);
    }
    const join = await this.joinGroup();
    this.generationId = join.generationId;
    this.memberId = join.memberId;
    this.protocol = join.protocolName as AssignorName;
    let assignments: Array<{ memberId: string; assignment: Buffer }> = [];
    if (join.leader === join.memberId && !join.skipAssignment) assignments = await this.computeAssignment(join);
    const sync = await this.cluster.coordinatorRequest<SyncGroupResponse>(
      this.groupId,
      ApiKey.SyncGroup,
      {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: this.groupInstanceId,
        protocolType: 'consumer',
        protocolName: this.protocol,
        assignments,
      },
      (r) => this.checkGroupError(r.errorCode, 'SyncGroup'),
      { timeoutMs: this.cluster.requestTimeoutMs + this.rebalanceTimeoutMs },
    );
    const assigned = decodeAssignment(sync.assignment);
    const before = flatten(this.owned);
    const after = flatten(assigned);
    const has = (list: GroupTopicPartition[], p: GroupTopicPartition) =>
      list.some((q) => q.topic === p.topic && q.partition === p.partition);
    const revoked = before.filter((p) => !has(after, p));
    const added = after.filter((p) => !has(before, p));
    if (revoked.length > 0) {
      await this.onRebalance?.revoke(revoked);
      // Cooperative: what we gave up can now be assigned to its new owner in another round.
      if (assignors[this.protocol].cooperative) this.needsRejoin = true;
    }
    this.owned = assigned;
    await this.onRebalance?.assign(after);
    void added;
  }

  private checkGroupError(code: number, what: string): void {
    if (code === 0) return;
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
    // Thrown past the coordinator retries: poll() marks the member for a new join, which is the retry.
    throw new KafkaError(code, null, `${what} in group "${this.groupId}"`);
  }

  private async joinGroup(): Promise<JoinGroupResponse> {
    const protocols = this.assignorNames.map((name) => ({ name, metadata: this.subscriptionBytes() }));
    for (let attempt = 0; ; attempt++) {
      const response = await this.cluster.coordinatorRequest<JoinGroupResponse>(
        this.groupId,
        ApiKey.JoinGroup,
        {
          groupId: this.groupId,
          sessionTimeoutMs: this.sessionTimeoutMs,
          rebalanceTimeoutMs: this.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: this.groupInstanceId,
          protocolType: 'consumer',
          protocols,
          reason: null,
        },
        (r) => {
          if (r.errorCode === ErrorCode.MEMBER_ID_REQUIRED) return;
          if (r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
          if (r.errorCode !== 0) throw new KafkaError(r.errorCode, null, `JoinGroup "${this.groupId}"`);
        },
        { timeoutMs: this.cluster.requestTimeoutMs + this.rebalanceTimeoutMs },
      );
      if (response.errorCode === ErrorCode.MEMBER_ID_REQUIRED && attempt < 3) {
        this.memberId = response.memberId;
        continue;
      }
      return response;
    }
  }

  private subscriptionBytes(): Buffer {
    const w = new ByteWriter();
    w.int16(SUBSCRIPTION_VERSION);
    writeConsumerProtocolSubscription(w, SUBSCRIPTION_VERSION, false, {
      topics: this.subscribedTopics,
      userData: null,
      ownedPartitions: [...this.owned].map(([topic, partitions]) => ({ topic, partitions })),
      generationId: this.generationId,
    });
    return w.toBuffer();
  }

  private async computeAssignment(join: JoinGroupResponse): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const members: MemberSubscription[] = join.members.map((m) => {
      const subscription = decodeSubscription(m.metadata);
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        topics: subscription.topics,
        owned: subscription.owned,
        generationId: subscription.generationId,
      };
    });
    const topics = new Set(members.flatMap((m) => m.topics));
    await this.cluster.refreshMetadata(topics);
    const partitionCounts = new Map<string, number>();
    const snapshot = new Map<string, number>();
    for (const topic of topics) {
      const info = this.cluster.topics.get(topic);
      if (info) partitionCounts.set(topic, info.partitions.length);
      snapshot.set(topic, info?.partitions.length ?? 0);
    }
    this.assignmentSnapshot = snapshot;
    const result = assignors[join.protocolName as AssignorName].assign(members, partitionCounts);
    return [...result].map(([memberId, topicMap]) => {
      const w = new ByteWriter();
      w.int16(ASSIGNMENT_VERSION);
      writeConsumerProtocolAssignment(w, ASSIGNMENT_VERSION, false, {
        assignedPartitions: [...topicMap].map(([topic, partitions]) => ({ topic, partitions })),
        userData: null,
      });
      return { memberId, assignment: w.toBuffer() };
    });
  }

  private async heartbeat(): Promise<void> {
    if (this.rebalancing || this.needsRejoin || this.left || this.generationId < 0) return;
    try {
      const nodeId = await this.cluster.groupCoordinator(this.groupId);
      const response = await this.cluster.request<HeartbeatResponse>(nodeId, ApiKey.Heartbeat, {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: this.groupInstanceId,
      });
      switch (response.errorCode) {
        case ErrorCode.NONE:
          return;
        case ErrorCode.REBALANCE_IN_PROGRESS:
          this.needsRejoin = true;
          return;
        case ErrorCode.UNKNOWN_MEMBER_ID:
        case ErrorCode.ILLEGAL_GENERATION:
          // The group moved on without us: the partitions are lost, not revoked.
          if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
          this.generationId = -1;
          this.lose();
          this.needsRejoin = true;
          return;
        case ErrorCode.FENCED_INSTANCE_ID:
          this.fatal = new KafkaError(
            response.errorCode,
            null,
            `another consumer uses group instance id "${this.groupInstanceId}"`,
          );
          return;
        case ErrorCode.NOT_COORDINATOR:
        case ErrorCode.COORDINATOR_NOT_AVAILABLE:
          await this.cluster.groupCoordinator(this.groupId, true).catch(() => undefined);
          return;
        default:
          return;
      }
    } catch (error) {
      if (!(error instanceof SluiceClientError)) throw error;
    }
  }

  private lose(): void {
    const lost = flatten(this.owned);
    this.owned = new Map();
    if (lost.length > 0) void this.onRebalance?.revoke(lost).catch(() => undefined);
  }

  /** Leaves the group (dynamic members only: a static member keeps its place for a restart). */
  async leave(): Promise<void> {
    this.left = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.groupInstanceId !== null || this.memberId === '') return;
    // LeaveGroup v0-2 names one member at the top level; v3+ lists members (KIP-345).
    const coordinator = await this.cluster.connectionTo(await this.cluster.groupCoordinator(this.groupId));
    const version = coordinator.versionFor(ApiKey.LeaveGroup) ?? 0;
    const body =
      version < 3
        ? { groupId: this.groupId, memberId: this.memberId }
        : {
            groupId: this.groupId,
            members: [{ memberId: this.memberId, groupInstanceId: null, reason: 'the consumer is closing' }],
          };
    await this.cluster.coordinatorRequest<LeaveGroupResponse>(this.groupId, ApiKey.LeaveGroup, body, (r) => {
      if (r.errorCode !== 0 && r.errorCode !== ErrorCode.UNKNOWN_MEMBER_ID)
        throw new KafkaError(r.errorCode, null, `LeaveGroup "${this.groupId}"`);
    });
  }
}

function flatten(map: Map<string, number[]>): GroupTopicPartition[] {
  const out: GroupTopicPartition[] = [];
  for (const [topic, partitions] of map) for (const partition of partitions) out.push({ topic, partition });
  return out;
}

/** Reads a member's subscription; a newer version than we know is read as far as we know it. */
export function decodeSubscription(metadata: Buffer): {
  topics: string[];
  owned: Map<string, number[]>;
  generationId: number;
} {
  const r = new ByteReader(metadata, 0, metadata.length, 'ConsumerProtocolSubscription');
  const version = Math.min(r.int16('version'), 3);
  const subscription = readConsumerProtocolSubscription(r, version, false);
  return {
    topics: subscription.topics,
    owned: new Map(subscription.ownedPartitions.map((tp) => [tp.topic, tp.partitions])),
    generationId: subscription.generationId,
  };
}

export function decodeAssignment(bytes: Buffer): Map<string, number[]> {
  if (bytes.length === 0) return new Map();
  const r = new ByteReader(bytes, 0, bytes.length, 'ConsumerProtocolAssignment');
  const version = Math.min(r.int16('version'), 3);
  const assignment = readConsumerProtocolAssignment(r, version, false);
  const out = new Map<string, number[]>();
  for (const tp of assignment.assignedPartitions) out.set(tp.topic, [...(out.get(tp.topic) ?? []), ...tp.partitions]);
  return out;
}
