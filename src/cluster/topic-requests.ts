// CreateTopics, DeleteTopics and CreatePartitions on any broker of a cluster: the broker checks what it
// can check itself (name, configs, sizes — the same checks as one node), files the request in etcd for
// the controller, waits for the controller's answer, and then for the change to be applied here, so a
// client that reads Metadata from this broker right after the answer sees the new topic.
import { randomBytes } from 'node:crypto';
import type { TopicRequests } from '../broker/broker.js';
import type { Failure } from '../broker/services.js';
import type { Topic } from '../broker/topic-registry.js';
import { isReplicatedInternalTopic } from '../broker/topic-names.js';
import { TRANSACTION_STATE_TOPIC } from '../broker/transactions/state-store.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import type { Broker } from '../broker/broker.js';
import type { ClusterState } from './cluster-state.js';
import type { EtcdSession } from './etcd-session.js';
import type { AdminAnswer, AdminRequest } from './records.js';

/** How long a request waits for the controller (and then for the broker to apply it). */
const REQUEST_TIMEOUT_MS = 30_000;
const OK: Failure = { errorCode: ErrorCode.NONE, errorMessage: null };

/** What the requests need of the cluster node (cluster-node.ts). */
export interface RequestingNode {
  readonly localId: number;
  readonly state: ClusterState;
  readonly session: EtcdSession;
  readonly settings: { defaultReplicationFactor: number };
  readonly brokerOrNull: Broker | null;
  waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean>;
}

export class ClusterTopicRequests implements TopicRequests {
  constructor(private readonly node: RequestingNode) {}

  private get broker() {
    return this.node.brokerOrNull!;
  }

  async createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
    validateOnly: boolean,
  ): Promise<Failure & { topic?: Topic }> {
    const checked = await this.broker.topicAdmin.createTopic(name, partitions, configs, true);
    if (checked.errorCode !== ErrorCode.NONE) return checked;
    const live = this.node.state.eligibleBrokers().length;
    let rf = replicationFactor === -1 ? this.node.settings.defaultReplicationFactor : replicationFactor;
    if (replicationFactor === -1 && isReplicatedInternalTopic(name)) {
      // A coordinator's topic: as many replicas as its setting asks for and live brokers allow (Kafka
      // waits for enough brokers instead; a cluster brought up one broker at a time would have no
      // coordinator until then).
      const setting =
        name === TRANSACTION_STATE_TOPIC
          ? 'transaction.state.log.replication.factor'
          : 'offsets.topic.replication.factor';
      rf = Math.max(1, Math.min(Number(this.broker.config.properties[setting] ?? 3), live));
    }
    if (rf < 1 || rf > live)
      return {
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        errorMessage: `Replication factor: ${rf} larger than available brokers: ${live}.`,
      };
    if (validateOnly) return OK;
    const answer = await this.ask({
      kind: 'create',
      from: this.node.localId,
      topic: name,
      partitions,
      replicationFactor: rf,
      configs,
    });
    if (answer.errorCode !== ErrorCode.NONE) return answer;
    const here = await this.node.waitFor(() => this.isHere(name), REQUEST_TIMEOUT_MS);
    return here
      ? { ...OK, topic: this.broker.topics.get(name)! }
      : timedOut(`topic ${name} created but not open here yet`);
  }

  async deleteTopic(name: string): Promise<Failure & { topicId?: Buffer }> {
    const topic = this.broker.topics.get(name);
    if (!this.node.state.topics.has(name))
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: 'This server does not host this topic-partition.',
      };
    const answer = await this.ask({ kind: 'delete', from: this.node.localId, topic: name });
    if (answer.errorCode !== ErrorCode.NONE) return answer;
    const gone = await this.node.waitFor(() => this.broker.topics.get(name) === undefined, REQUEST_TIMEOUT_MS);
    return gone ? { ...OK, ...(topic ? { topicId: topic.id } : {}) } : timedOut(`topic ${name} deleted but still here`);
  }

  async createPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    const record = this.node.state.topics.get(name)?.value;
    if (record === undefined)
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: 'This server does not host this topic-partition.',
      };
    if (count <= record.partitions.length)
      return {
        errorCode: ErrorCode.INVALID_PARTITIONS,
        errorMessage:
          `Topic currently has ${record.partitions.length} partitions, ` +
          `which is higher than the requested ${count}.`,
      };
    if (validateOnly) return OK;
    const answer = await this.ask({ kind: 'grow', from: this.node.localId, topic: name, partitions: count });
    if (answer.errorCode !== ErrorCode.NONE) return answer;
    const grown = await this.node.waitFor(
      () => (this.broker.topics.get(name)?.partitions ?? 0) >= count,
      REQUEST_TIMEOUT_MS,
    );
    return grown ? OK : timedOut(`topic ${name} grown but not here yet`);
  }

  private isHere(name: string): boolean {
    const record = this.node.state.topics.get(name)?.value;
    const local = this.broker.topics.get(name);
    return record !== undefined && local !== undefined && local.id.equals(Buffer.from(record.id, 'base64url'));
  }

  /** Files the request under this broker's lease and waits for the controller's answer. */
  private async ask(request: AdminRequest): Promise<AdminAnswer> {
    const id = `${this.node.localId}-${randomBytes(6).toString('hex')}`;
    try {
      await this.node.session.put(`requests/${id}`, JSON.stringify(request));
    } catch (error) {
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `etcd unreachable: ${(error as Error).message}` };
    }
    const answered = () => this.node.state.requests.get(id)?.value.answer !== undefined;
    const done = await this.node.waitFor(answered, REQUEST_TIMEOUT_MS);
    const answer = this.node.state.requests.get(id)?.value.answer;
    void this.node.session.delete(`requests/${id}`).catch(() => undefined);
    if (!done || answer === undefined) return timedOut('the controller did not answer (is one elected?)');
    return answer;
  }
}

function timedOut(message: string): Failure {
  return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: message };
}
