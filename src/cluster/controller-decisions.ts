// What the controller writes, given its cluster state: the answers to admin requests, and each
// partition's leader, epoch and ISR as the live brokers and the leaders' ISR proposals say. Pure — the
// controller (controller.ts) runs it after every change it watches and writes the result fenced.
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import type { ClusterState } from './cluster-state.js';
import type { Write } from './etcd-session.js';
import { assignReplicas, electLeader, sameMembers } from './placement.js';
import type { AdminAnswer, AdminRequest, PartitionRecord, TopicRecord } from './records.js';

export interface ControllerSettings {
  defaultReplicationFactor: number;
  uncleanLeaderElection: boolean;
}

export const topicKey = (name: string) => `topics/${name}`;
export const requestKey = (id: string) => `requests/${id}`;
export const isrKey = (topic: string, partition: number) => `isr/${topic}/${partition}`;

/** One transaction: all of it or nothing. */
export type Decision = { why: string; writes: Write[] };

function answered(id: string, modRevision: string, request: AdminRequest, answer: AdminAnswer, writes: Write[] = []) {
  return {
    why: `${request.kind} ${request.topic}: ${answer.errorCode === 0 ? 'done' : answer.errorMessage}`,
    writes: [
      ...writes,
      {
        put: { key: requestKey(id), value: JSON.stringify({ ...request, answer }) },
        ifModRevision: { key: requestKey(id), modRevision },
      },
    ],
  };
}

const ok: AdminAnswer = { errorCode: ErrorCode.NONE, errorMessage: null };
const failure = (errorCode: number, errorMessage: string): AdminAnswer => ({ errorCode, errorMessage });

function decideRequest(
  state: ClusterState,
  id: string,
  modRevision: string,
  request: AdminRequest,
  settings: ControllerSettings,
): Decision {
  const existing = state.topics.get(request.topic);
  const live = [...state.brokers.values()].filter((b) => !b.shuttingDown);
  const fail = (code: number, message: string) => answered(id, modRevision, request, failure(code, message));
  switch (request.kind) {
    case 'create': {
      if (existing) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${request.topic}' already exists.`);
      const rf = request.replicationFactor === -1 ? settings.defaultReplicationFactor : request.replicationFactor;
      if (rf < 1 || rf > live.length)
        return fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `Replication factor: ${rf} larger than available brokers: ${live.length}.`,
        );
      const replicas = assignReplicas(live, 0, request.partitions, rf, state.topics.size);
      const topic: TopicRecord = {
        name: request.topic,
        id: randomBytes(16).toString('base64url'),
        configs: request.configs,
        partitions: replicas.map((r) => ({ replicas: r, leader: r[0]!, leaderEpoch: 0, isr: [...r] })),
      };
      return answered(id, modRevision, request, ok, [
        {
          put: { key: topicKey(topic.name), value: JSON.stringify(topic) },
          ifModRevision: { key: topicKey(topic.name), modRevision: '0' },
        },
      ]);
    }
    case 'delete':
      if (!existing)
        return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
      return answered(id, modRevision, request, ok, [
        {
          delete: topicKey(request.topic),
          ifModRevision: { key: topicKey(request.topic), modRevision: existing.modRevision },
        },
      ]);
    case 'grow': {
      if (!existing)
        return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
      const have = existing.value.partitions.length;
      if (request.partitions <= have)
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `Topic currently has ${have} partitions, which is higher than the requested ${request.partitions}.`,
        );
      const rf = Math.min(existing.value.partitions[0]!.replicas.length, live.length);
      if (rf < 1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'no broker is available');
      const added: PartitionRecord[] = assignReplicas(live, have, request.partitions - have, rf).map((r) => ({
        replicas: r,
        leader: r[0]!,
        leaderEpoch: 0,
        isr: [...r],
      }));
      const grown: TopicRecord = { ...existing.value, partitions: [...existing.value.partitions, ...added] };
      return answered(id, modRevision, request, ok, [
        {
          put: { key: topicKey(grown.name), value: JSON.stringify(grown) },
          ifModRevision: { key: topicKey(grown.name), modRevision: existing.modRevision },
        },
      ]);
    }
  }
}

/** Everything the controller should write now, one decision per transaction. */
export function decide(state: ClusterState, settings: ControllerSettings): Decision[] {
  const decisions: Decision[] = [];
  for (const [id, { value: request, modRevision }] of state.requests)
    if (request.answer === undefined) decisions.push(decideRequest(state, id, modRevision, request, settings));

  const eligible = new Set(state.eligibleBrokers());
  for (const [name, { value: topic, modRevision }] of state.topics) {
    const unclean =
      (topic.configs['unclean.leader.election.enable'] ?? String(settings.uncleanLeaderElection)) === 'true';
    const writes: Write[] = [];
    const why: string[] = [];
    const partitions = topic.partitions.map((current, index) => {
      let next = current;
      const proposal = state.isrChanges.get(`${name}/${index}`);
      if (proposal) {
        writes.push({
          delete: isrKey(name, index),
          ifModRevision: { key: isrKey(name, index), modRevision: proposal.modRevision },
        });
        const { leader, leaderEpoch, isr } = proposal.value;
        const valid = isr.filter((id) => current.replicas.includes(id));
        if (
          leader === current.leader &&
          leaderEpoch === current.leaderEpoch &&
          valid.includes(leader) &&
          !sameMembers(valid, current.isr)
        ) {
          next = { ...current, isr: valid };
          why.push(`${name}-${index} ISR [${current.isr}] → [${valid}] (leader ${leader})`);
        }
      }
      const elected = electLeader(next, eligible, unclean);
      if (elected !== next)
        why.push(
          `${name}-${index} leader ${next.leader} → ${elected.leader} ` +
            `epoch ${elected.leaderEpoch} ISR [${elected.isr}]`,
        );
      return elected;
    });
    if (why.length > 0)
      writes.push({
        put: { key: topicKey(name), value: JSON.stringify({ ...topic, partitions }) },
        ifModRevision: { key: topicKey(name), modRevision },
      });
    if (writes.length > 0) decisions.push({ why: why.join('; ') || `${name}: stale ISR proposals dropped`, writes });
  }
  // Proposals for partitions that no longer exist.
  for (const [where, { modRevision }] of state.isrChanges) {
    const slash = where.lastIndexOf('/');
    if (!state.topics.get(where.slice(0, slash))?.value.partitions[Number(where.slice(slash + 1))])
      decisions.push({
        why: `ISR proposal for ${where} dropped`,
        writes: [{ delete: `isr/${where}`, ifModRevision: { key: `isr/${where}`, modRevision } }],
      });
  }
  return decisions;
}
