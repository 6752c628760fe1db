// What the group coordinator's entry points (coordinator.ts) take and answer, shared by its
// collaborators so none of them imports the facade. The shapes follow the Kafka requests they serve.
import type { OffsetCommitRequest, PartitionErrors } from '../services.js';
import type { GroupState } from './group.js';
import type { JoinResult, Protocol, SyncResult } from './member.js';

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

/** OffsetCommit and TxnOffsetCommit (services.ts declares it: the transaction coordinator passes it on). */
export type CommitRequest = OffsetCommitRequest;

export interface PartitionError {
  partition: number;
  errorCode: number;
}

export type TopicPartitionErrors = PartitionErrors;

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

export const EMPTY = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leaderId: '', memberId, members: [] };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** The same error for every partition of a commit. */
export function commitError(request: CommitRequest, errorCode: number): TopicPartitionErrors[] {
  return request.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
  }));
}
