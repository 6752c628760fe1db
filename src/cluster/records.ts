// What the cluster keeps in etcd, key by key, as JSON. The controller alone writes the topic records;
// each broker writes only its own registration (under its lease) and, as a partition's leader, its
// requests to change that partition's in-sync replicas; any broker files admin requests (create, delete,
// grow a topic) for the controller to decide.
//
//   <prefix>/brokers/<id>            BrokerRecord        under the broker's lease: gone when it dies
//   <prefix>/controller              ControllerRecord    under the controller's lease (the election)
//   <prefix>/topics/<name>           TopicRecord         controller only, compare-and-swap on revisions
//   <prefix>/requests/<id>           AdminRequest        a broker's; the controller writes the answer in
//   <prefix>/isr/<topic>/<partition> IsrChange           a leader's proposal; the controller applies it
//
// Every value read from etcd is checked before it is believed: a key written by something else (an
// operator's etcdctl, an older version) is logged and ignored, never half-applied.

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** Set by a broker going down on SIGTERM: the controller moves its leaderships away first. */
  shuttingDown: boolean;
}

export interface ControllerRecord {
  nodeId: number;
}

export interface PartitionRecord {
  /** The brokers that hold a copy, the preferred leader first. */
  replicas: number[];
  /** -1 while no broker leads it. */
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

export interface TopicRecord {
  name: string;
  /** base64url of the 16-byte topic id. */
  id: string;
  configs: Record<string, string>;
  partitions: PartitionRecord[];
}

export type AdminRequest =
  | {
      kind: 'create';
      from: number;
      topic: string;
      partitions: number;
      replicationFactor: number;
      configs: Record<string, string>;
      answer?: AdminAnswer;
    }
  | { kind: 'delete'; from: number; topic: string; answer?: AdminAnswer }
  | { kind: 'grow'; from: number; topic: string; partitions: number; answer?: AdminAnswer };

export interface AdminAnswer {
  errorCode: number;
  errorMessage: string | null;
}

export interface IsrChange {
  /** The leader that asks, at the epoch it leads: a stale leader's proposal is dropped. */
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isStringMap = (v: unknown): v is Record<string, string> =>
  isObject(v) && Object.values(v).every((x) => typeof x === 'string');

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function brokerRecordFrom(text: string): BrokerRecord | undefined {
  const v = parse(text);
  if (!isObject(v) || !isInt(v.nodeId) || typeof v.host !== 'string' || !isInt(v.port)) return undefined;
  if (v.rack !== null && typeof v.rack !== 'string') return undefined;
  return { nodeId: v.nodeId, host: v.host, port: v.port, rack: v.rack, shuttingDown: v.shuttingDown === true };
}

export function controllerRecordFrom(text: string): ControllerRecord | undefined {
  const v = parse(text);
  return isObject(v) && isInt(v.nodeId) ? { nodeId: v.nodeId } : undefined;
}

function partitionRecordFrom(v: unknown): PartitionRecord | undefined {
  if (!isObject(v) || !isIntList(v.replicas) || !isInt(v.leader) || !isInt(v.leaderEpoch) || !isIntList(v.isr))
    return undefined;
  return { replicas: v.replicas, leader: v.leader, leaderEpoch: v.leaderEpoch, isr: v.isr };
}

export function topicRecordFrom(text: string): TopicRecord | undefined {
  const v = parse(text);
  if (!isObject(v) || typeof v.name !== 'string' || typeof v.id !== 'string' || !isStringMap(v.configs))
    return undefined;
  if (!Array.isArray(v.partitions) || v.partitions.length === 0) return undefined;
  const partitions: PartitionRecord[] = [];
  for (const p of v.partitions) {
    const record = partitionRecordFrom(p);
    if (record === undefined) return undefined;
    partitions.push(record);
  }
  if (Buffer.from(v.id, 'base64url').length !== 16) return undefined;
  return { name: v.name, id: v.id, configs: v.configs, partitions };
}

export function adminRequestFrom(text: string): AdminRequest | undefined {
  const v = parse(text);
  if (!isObject(v) || !isInt(v.from) || typeof v.topic !== 'string') return undefined;
  const answer =
    isObject(v.answer) && isInt(v.answer.errorCode)
      ? {
          errorCode: v.answer.errorCode,
          errorMessage: typeof v.answer.errorMessage === 'string' ? v.answer.errorMessage : null,
        }
      : undefined;
  const base = { from: v.from, topic: v.topic, ...(answer ? { answer } : {}) };
  if (v.kind === 'delete') return { kind: 'delete', ...base };
  if (v.kind === 'grow' && isInt(v.partitions)) return { kind: 'grow', ...base, partitions: v.partitions };
  if (v.kind === 'create' && isInt(v.partitions) && isInt(v.replicationFactor) && isStringMap(v.configs))
    return {
      kind: 'create',
      ...base,
      partitions: v.partitions,
      replicationFactor: v.replicationFactor,
      configs: v.configs,
    };
  return undefined;
}

export function isrChangeFrom(text: string): IsrChange | undefined {
  const v = parse(text);
  if (!isObject(v) || !isInt(v.leader) || !isInt(v.leaderEpoch) || !isIntList(v.isr)) return undefined;
  return { leader: v.leader, leaderEpoch: v.leaderEpoch, isr: v.isr };
}
