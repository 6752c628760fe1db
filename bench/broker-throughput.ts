// The throughput runs of the broker bench: kcat (librdkafka) producing a pre-generated file and
// consuming it back, for each value size and partition count, best of two; and the Node generator
// (produce-flood.ts) re-sending pre-encoded batches, the broker's produce ceiling. Each run is
// accounted in CPU seconds — broker by thread, client, and the rest of the machine — and its GC.
// Each row is handed to `onRow` as soon as it is measured, so it is printed while the bench goes on.
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FLOOD_IN_FLIGHT, KCAT_TIMEOUT_MS, PARTITION_COUNTS, VALUE_SIZES, type Scale } from './broker-scale.js';
import { machineBusyCpuSeconds } from './machine-limits.js';
import { runKcat, type BrokerProcess, type KcatRun, type ThreadCpu } from './processes.js';
import { produceFlood } from './produce-flood.js';
import { WireClient } from './wire-client.js';

export interface ThroughputRow {
  kind: 'produce' | 'consume';
  /** kcat (librdkafka), or the Node generator on our codecs (produce-flood.ts). */
  client: 'kcat' | 'node';
  valueBytes: number;
  partitions: number;
  messages: number;
  seconds: number;
  /** Bytes of the partitions' .log files (record batches as stored and sent). */
  logBytes: number;
  usage: Usage;
  spread?: number[];
  /** The time of the other run (the best of two is reported). */
  otherSeconds?: number;
}

/** CPU seconds used during one run, and the broker's GC pauses. */
export interface Usage {
  brokerCpuSeconds: number;
  /** The broker's CPU by thread. */
  brokerThreads: ThreadCpu;
  /** kcat, or this process when the client is the Node generator. */
  clientCpuSeconds: number;
  /** The machine's busy CPU time less broker, kcat and this process: other people's work. */
  otherCpuSeconds: number;
  gcPauseMs: number;
}

/** One of the two produce runs of a throughput row, before the faster is picked. */
interface ProduceAttempt {
  topic: string;
  produced: { run: KcatRun; usage: Usage };
  spread: number[];
  logBytes: number;
}

/** Runs kcat and accounts the CPU of everyone involved while it ran. */
async function measured(broker: BrokerProcess, args: string[]): Promise<{ run: KcatRun; usage: Usage }> {
  return measuredWork(broker, async () => {
    const run = await runKcat(args, KCAT_TIMEOUT_MS);
    return { run, clientCpuSeconds: run.cpuSeconds };
  });
}

/**
 * Runs `work` (a kcat child, or a client inside this process) and accounts the CPU of the broker (by
 * thread), of the client, and of the rest of the machine, plus the broker's GC pauses, while it ran.
 */
async function measuredWork<T>(
  broker: BrokerProcess,
  work: () => Promise<{ run: T; clientCpuSeconds: number | null }>,
): Promise<{ run: T; usage: Usage }> {
  const brokerBefore = broker.cpuSeconds();
  const threadsBefore = broker.cpuByThread();
  const gcBefore = broker.gcPauseMs();
  const machineBefore = machineBusyCpuSeconds();
  const selfBefore = process.cpuUsage();
  const { run, clientCpuSeconds } = await work();
  // GC lines reach us through a pipe; give the last ones a moment.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const self = process.cpuUsage(selfBefore);
  const selfSeconds = (self.user + self.system) / 1e6;
  const brokerCpuSeconds = broker.cpuSeconds() - brokerBefore;
  const threadsAfter = broker.cpuByThread();
  const brokerThreads: ThreadCpu = {
    mainUser: threadsAfter.mainUser - threadsBefore.mainUser,
    mainSystem: threadsAfter.mainSystem - threadsBefore.mainSystem,
    otherUser: threadsAfter.otherUser - threadsBefore.otherUser,
    otherSystem: threadsAfter.otherSystem - threadsBefore.otherSystem,
  };
  const machine = machineBusyCpuSeconds() - machineBefore;
  // A client inside this process (clientCpuSeconds null) is this process's CPU; a kcat child is its own.
  const client = clientCpuSeconds ?? selfSeconds;
  const mine = clientCpuSeconds === null ? 0 : selfSeconds;
  return {
    run,
    usage: {
      brokerCpuSeconds,
      brokerThreads,
      clientCpuSeconds: client,
      otherCpuSeconds: Math.max(0, machine - brokerCpuSeconds - client - mine),
      gcPauseMs: broker.gcPauseMs() - gcBefore,
    },
  };
}

/** A file of `count` lines, each `valueBytes` printable bytes (kcat -P sends one message per line). */
export function writeMessageFile(path: string, count: number, valueBytes: number): void {
  const line = Buffer.alloc(valueBytes + 1);
  for (let i = 0; i < valueBytes; i++) line[i] = 0x41 + ((i * 7) % 26);
  line[valueBytes] = 0x0a;
  const linesPerChunk = Math.max(1, Math.floor((1024 * 1024) / line.length));
  const chunk = Buffer.alloc(linesPerChunk * line.length);
  for (let i = 0; i < linesPerChunk; i++) line.copy(chunk, i * line.length);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < count; written += linesPerChunk) {
      const lines = Math.min(linesPerChunk, count - written);
      writeSync(fd, chunk, 0, lines * line.length);
    }
  } finally {
    closeSync(fd);
  }
}

function logBytesOf(dataDir: string, topic: string): number {
  let total = 0;
  for (const entry of readdirSync(dataDir)) {
    if (!entry.startsWith(`${topic}-`) || !/^\d+$/.test(entry.slice(topic.length + 1))) continue;
    for (const file of readdirSync(join(dataDir, entry)))
      if (file.endsWith('.log')) total += statSync(join(dataDir, entry, file)).size;
  }
  return total;
}

export function producerArgs(bootstrap: string, topic: string, file: string, partitions: number): string[] {
  const args = [
    '-P',
    '-b',
    bootstrap,
    '-t',
    topic,
    '-X',
    'acks=all',
    '-X',
    'linger.ms=5',
    '-X',
    'batch.num.messages=10000',
    '-z',
    'none',
    '-l',
    file,
  ];
  if (partitions > 1) args.push('-p', '-1');
  return args;
}

export function consumerArgs(bootstrap: string, topic: string, messages: number): string[] {
  return ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-c', String(messages), '-e', '-q'];
}

/** The kcat runs: produce (best of two topics) then consume (best of two), per value size and partition count. */
export async function throughputRuns(
  broker: BrokerProcess,
  dataDir: string,
  files: Map<number, string>,
  scale: Scale,
  onRow: (row: ThroughputRow) => void,
): Promise<ThroughputRow[]> {
  const admin = await WireClient.connect(broker.host, broker.port);
  const rows: ThroughputRow[] = [];
  try {
    for (const valueBytes of VALUE_SIZES) {
      for (const partitions of PARTITION_COUNTS) {
        const messages = scale.messages[valueBytes]!;
        // Two produce runs into two topics; the faster one is reported (the machine may be shared).
        const runs: ProduceAttempt[] = [];
        for (const attempt of ['a', 'b']) {
          const topic = `bench-${valueBytes}b-${partitions}p-${attempt}`;
          await admin.createTopic(topic, partitions);
          const produced = await measured(
            broker,
            producerArgs(broker.bootstrap, topic, files.get(valueBytes)!, partitions),
          );
          const spread = await admin.highWatermarks(topic, partitions);
          const stored = spread.reduce((a, b) => a + b, 0);
          if (stored !== messages) {
            throw new Error(`${topic}: kcat produced ${messages} messages but the high watermarks add up to ${stored}`);
          }
          runs.push({ topic, produced, spread, logBytes: logBytesOf(dataDir, topic) });
        }
        const [fast, slow] =
          runs[0]!.produced.run.seconds <= runs[1]!.produced.run.seconds ? [runs[0]!, runs[1]!] : [runs[1]!, runs[0]!];
        const { topic, logBytes } = fast;
        rows.push({
          kind: 'produce',
          client: 'kcat',
          valueBytes,
          partitions,
          messages,
          seconds: fast.produced.run.seconds,
          logBytes,
          usage: fast.produced.usage,
          spread: fast.spread,
          otherSeconds: slow.produced.run.seconds,
        });
        onRow(rows.at(-1)!);

        const first = await measured(broker, consumerArgs(broker.bootstrap, topic, messages));
        const second = await measured(broker, consumerArgs(broker.bootstrap, topic, messages));
        const [best, other] = first.run.seconds <= second.run.seconds ? [first, second] : [second, first];
        rows.push({
          kind: 'consume',
          client: 'kcat',
          valueBytes,
          partitions,
          messages,
          seconds: best.run.seconds,
          logBytes,
          usage: best.usage,
          otherSeconds: other.run.seconds,
        });
        onRow(rows.at(-1)!);
      }
    }
  } finally {
    admin.close();
  }
  return rows;
}

/** The broker's produce ceiling with the Node generator (produce-flood.ts): no per-message client work. */
export async function floodRuns(
  broker: BrokerProcess,
  dataDir: string,
  scale: Scale,
  onRow: (row: ThroughputRow) => void,
): Promise<ThroughputRow[]> {
  const admin = await WireClient.connect(broker.host, broker.port);
  const rows: ThroughputRow[] = [];
  try {
    for (const valueBytes of VALUE_SIZES) {
      for (const partitions of PARTITION_COUNTS) {
        const topic = `bench-flood-${valueBytes}b-${partitions}p`;
        await admin.createTopic(topic, partitions);
        const { run, usage } = await measuredWork(broker, async () => ({
          run: await produceFlood(broker.host, broker.port, topic, partitions, {
            valueBytes,
            messages: scale.floodMessages[valueBytes]!,
            inFlight: FLOOD_IN_FLIGHT,
            timeoutMs: KCAT_TIMEOUT_MS,
          }),
          clientCpuSeconds: null,
        }));
        rows.push({
          kind: 'produce',
          client: 'node',
          valueBytes,
          partitions,
          messages: run.messages,
          seconds: run.seconds,
          logBytes: logBytesOf(dataDir, topic),
          usage,
        });
        onRow(rows.at(-1)!);
      }
    }
  } finally {
    admin.close();
  }
  return rows;
}
