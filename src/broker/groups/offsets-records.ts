// Records of `__consumer_offsets`, in Apache Kafka's own format so an operator's tools (and a
// later migration) read them unchanged. Every record's key starts with an int16 version that says
// what the record is; the value starts with its own int16 version; a null value is a tombstone.
//
//   OffsetCommitKey  (key v0/v1)  group: string, topic: string, partition: int32
//   GroupMetadataKey (key v2)     group: string
//
//   OffsetCommitValue v1          offset: int64, metadata: string, commitTimestamp: int64, expireTimestamp: int64
//   OffsetCommitValue v3          offset: int64, leaderEpoch: int32, metadata: string, commitTimestamp: int64
//     (Sluice writes v3, or v1 when an OffsetCommit v2-v4 asked for an explicit retention time —
//      Kafka does the same; it reads v0-v3.)
//
//   GroupMetadataValue v3         protocolType: string, generation: int32, protocol: nullable string,
//                                 leader: nullable string, currentStateTimestamp: int64,
//                                 members: int32 count × { memberId: string, groupInstanceId: nullable string,
//                                   clientId: string, clientHost: string, rebalanceTimeout: int32,
//                                   sessionTimeout: int32, subscription: bytes, assignment: bytes }
//     (reads v0-v3: v1 adds rebalanceTimeout, v2 currentStateTimestamp, v3 groupInstanceId.)
//
// Strings are int16-length UTF-8 and bytes int32-length, as in the non-flexible Kafka protocol.
import { ByteReader } from '../../protocol/primitives/byte-reader.js';
import { ByteWriter } from '../../protocol/primitives/byte-writer.js';

export interface OffsetKey {
  kind: 'offset';
  group: string;
  topic: string;
  partition: number;
}

export interface GroupKey {
  kind: 'group';
  group: string;
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Only when the commit asked for its own retention (OffsetCommit v2-v4 retention_time_ms). */
  expireTimestamp: number | null;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface StoredGroup {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: StoredMember[];
}

export function encodeOffsetKey(group: string, topic: string, partition: number): Buffer {
  const w = new ByteWriter(64);
  w.int16(1);
  w.string(group);
  w.string(topic);
  w.int32(partition);
  return w.toBuffer();
}

export function encodeGroupKey(group: string): Buffer {
  const w = new ByteWriter(32);
  w.int16(2);
  w.string(group);
  return w.toBuffer();
}

export function decodeKey(key: Buffer): OffsetKey | GroupKey | null {
  const r = new ByteReader(key, 0, key.length, '__consumer_offsets key');
  const version = r.int16('version');
  if (version === 0 || version === 1)
    return { kind: 'offset', group: r.string('group'), topic: r.string('topic'), partition: r.int32('partition') };
  if (version === 2) return { kind: 'group', group: r.string('group') };
  return null; // a record type this version of Sluice does not know (e.g. KIP-848 records): skipped
}

export function encodeOffsetValue(value: CommittedOffset): Buffer {
  const w = new ByteWriter(64);
  if (value.expireTimestamp !== null) {
    w.int16(1);
    w.int64(BigInt(value.offset));
    w.string(value.metadata);
    w.int64(BigInt(value.commitTimestamp));
    w.int64(BigInt(value.expireTimestamp));
  } else {
    w.int16(3);
    w.int64(BigInt(value.offset));
    w.int32(value.leaderEpoch);
    w.string(value.metadata);
    w.int64(BigInt(value.commitTimestamp));
  }
  return w.toBuffer();
}

export function decodeOffsetValue(value: Buffer): CommittedOffset {
  const r = new ByteReader(value, 0, value.length, 'OffsetCommitValue');
  const version = r.int16('version');
  const offset = Number(r.int64('offset'));
  const leaderEpoch = version >= 3 ? r.int32('leaderEpoch') : -1;
  const metadata = r.string('metadata');
  const commitTimestamp = Number(r.int64('commitTimestamp'));
  const expireTimestamp = version === 1 ? Number(r.int64('expireTimestamp')) : null;
  return {
    offset,
    leaderEpoch,
    metadata,
    commitTimestamp,
    expireTimestamp: expireTimestamp !== null && expireTimestamp >= 0 ? expireTimestamp : null,
  };
}

export function encodeGroupValue(group: StoredGroup): Buffer {
  const w = new ByteWriter(256);
  w.int16(3);
  w.string(group.protocolType);
  w.int32(group.generation);
  w.nullableString(group.protocol);
  w.nullableString(group.leader);
  w.int64(BigInt(group.currentStateTimestamp));
  w.int32(group.members.length);
  for (const m of group.members) {
    w.string(m.memberId);
    w.nullableString(m.groupInstanceId);
    w.string(m.clientId);
    w.string(m.clientHost);
    w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.toBuffer();
}

export function decodeGroupValue(value: Buffer): StoredGroup {
  const r = new ByteReader(value, 0, value.length, 'GroupMetadataValue');
  const version = r.int16('version');
  const protocolType = r.string('protocolType');
  const generation = r.int32('generation');
  const protocol = r.nullableString('protocol');
  const leader = r.nullableString('leader');
  const currentStateTimestamp = version >= 2 ? Number(r.int64('currentStateTimestamp')) : -1;
  const count = r.int32('members');
  if (count < 0 || count > r.remaining) r.fail('members', `bad member count ${count}`);
  const members: StoredMember[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string('memberId');
    const groupInstanceId = version >= 3 ? r.nullableString('groupInstanceId') : null;
    const clientId = r.string('clientId');
    const clientHost = r.string('clientHost');
    const rebalanceTimeoutMs = version >= 1 ? r.int32('rebalanceTimeout') : -1;
    const sessionTimeoutMs = r.int32('sessionTimeout');
    const subscription = Buffer.from(r.bytes('subscription'));
    const assignment = Buffer.from(r.bytes('assignment'));
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}

/** The `__consumer_offsets` partition of a group: Kafka's `Utils.abs(groupId.hashCode) % partitions`. */
export { javaStringHashCode, partitionForKey as partitionForGroup } from '../internal-topic.js';
