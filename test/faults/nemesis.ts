// The fault bed's nemesis: a seeded schedule of faults against a three-broker cluster whose brokers and
// etcd each run in their own network namespace (netbed.ts). Each step injects one fault, holds it, then
// heals it and lets the cluster settle; the schedule is printed before it runs, so a seed replays it.
//
//   kill-leader        kill -9 the leader of a partition; restarted after the hold
//   pause-leader       SIGSTOP the leader for longer than the session timeout, then SIGCONT: it wakes
//                      up believing it leads
//   isolate-leader     cut the leader from every broker, etcd and the clients
//   leader-from-etcd   cut the leader from etcd only (it still reaches its followers and clients)
//   split              one broker alone on one side, two on the other (1|2), links to etcd kept
//   one-way            the leader's packets to its followers dropped; theirs to it still arrive
//   truncated-restart  kill -9 a follower, cut its log of the partition at a random byte, restart it
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCluster } from '../support/cluster.js';
import type { Random } from '../support/random.js';
import type { NetBed } from './netbed.js';

export const FAULTS = [
  'kill-leader',
  'pause-leader',
  'isolate-leader',
  'leader-from-etcd',
  'split',
  'one-way',
  'truncated-restart',
] as const;
export type Fault = (typeof FAULTS)[number];
/** The faults a bed without network namespaces can still inject. */
export const PROCESS_FAULTS: readonly Fault[] = ['kill-leader', 'pause-leader', 'truncated-restart'];

export interface Step {
  fault: Fault;
  partition: number;
  holdMs: number;
  settleMs: number;
}

/** Steps until `totalMs` of schedule (holds and settling) is filled. */
export function schedule(
  random: Random,
  totalMs: number,
  partitions: number,
  faults: readonly Fault[] = FAULTS,
): Step[] {
  const steps: Step[] = [];
  for (let used = 0; used < totalMs;) {
    const step = {
      fault: random.pick(faults),
      partition: random.int(0, partitions - 1),
      holdMs: random.int(2_000, 8_000),
      settleMs: random.int(3_000, 6_000),
    };
    steps.push(step);
    used += step.holdMs + step.settleMs;
  }
  return steps;
}

export interface NemesisTarget {
  cluster: TestCluster;
  /** Null on a machine without network namespaces: the schedule then holds process faults only. */
  bed: NetBed | null;
  topic: string;
  brokers: readonly number[];
  random: Random;
  log: (line: string) => void;
}

/** Runs one step: inject, hold, heal, settle. */
export async function runStep(target: NemesisTarget, step: Step): Promise<void> {
  const { cluster, brokers, random } = target;
  const bed = () => {
    if (target.bed === null) throw new Error(`${step.fault} needs network namespaces`);
    return target.bed;
  };
  const leader = (await leaderOf(target, step.partition)) ?? random.pick(brokers);
  const others = brokers.filter((b) => b !== leader);
  const hold = () => new Promise((resolve) => setTimeout(resolve, step.holdMs));
  let detail = `leader ${leader}`;
  switch (step.fault) {
    case 'kill-leader':
      await cluster.kill(leader);
      await hold();
      cluster.restart(leader);
      break;
    case 'pause-leader':
      cluster.pause(leader);
      await hold();
      cluster.resume(leader);
      break;
    case 'isolate-leader':
      bed().isolate(leader);
      await hold();
      bed().heal();
      break;
    case 'leader-from-etcd':
      bed().cut(leader, bed().etcdNode);
      await hold();
      bed().heal();
      break;
    case 'split': {
      const alone = random.pick(brokers);
      for (const other of brokers) if (other !== alone) bed().cut(alone, other);
      detail = `${alone} | ${brokers.filter((b) => b !== alone).join(',')}`;
      await hold();
      bed().heal();
      break;
    }
    case 'one-way':
      for (const other of others) bed().cutOneWay(leader, other);
      await hold();
      bed().heal();
      break;
    case 'truncated-restart': {
      const victim = random.pick(others);
      await cluster.kill(victim);
      const cut = truncateLastSegment(cluster.broker(victim).dataDir, target.topic, step.partition, random);
      detail = `follower ${victim}, ${cut}`;
      await hold();
      cluster.restart(victim);
      break;
    }
  }
  target.log(`  ${step.fault} (${detail}) held ${step.holdMs} ms`);
  await new Promise((resolve) => setTimeout(resolve, step.settleMs));
}

/** The partition's leader as a live broker's metadata says, or undefined if none answers in time. */
async function leaderOf(target: NemesisTarget, partition: number): Promise<number | undefined> {
  try {
    const found = await Promise.race([
      target.cluster.partitions(target.topic),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('metadata timed out')), 3000)),
    ]);
    const leader = found[partition]?.leader;
    return leader !== undefined && leader > 0 ? leader : undefined;
  } catch {
    return undefined;
  }
}

/** Cuts the partition's last log segment at a random byte; says where. */
function truncateLastSegment(dataDir: string, topic: string, partition: number, random: Random): string {
  const dir = join(dataDir, `${topic}-${partition}`);
  const segments = readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();
  const last = segments.at(-1);
  if (last === undefined) return 'no segment to cut';
  const size = statSync(join(dir, last)).size;
  const at = size === 0 ? 0 : random.int(0, size - 1);
  truncateSync(join(dir, last), at);
  return `${last} cut from ${size} to ${at} bytes`;
}
