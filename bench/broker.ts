// Broker benchmark (issue 5): a `sluice start` child process with a temporary data directory and the
// default `log.flush.policy=sync`, driven by kcat (librdkafka) on loopback.
//
//   node dist/bench/run.js broker            full run (about 1 to 2 minutes)
//   node dist/bench/run.js broker --quick    smaller counts and shorter windows (about 30 s)
//
// Printed, in order: machine facts; machine limits measured now (sequential write + fdatasync to the
// data directory's file system, loopback TCP between two threads, timer noise); produce→consume
// latency at a fixed rate (first, on a quiet disk, with an fdatasync probe beside it as a control);
// produce and consume throughput with kcat for 100-byte and 1 KiB values on 1 and 8 partitions; the
// broker's produce ceiling with a Node generator that re-sends pre-encoded batches (no per-message
// client work); each figure beside its machine limit and the issue's target; and a CPU profile of the
// broker during a produce run (a second broker started under `node --cpu-prof`), as self time per
// function.
//
// Method, throughput: kcat -P reads a pre-generated file (one message per line) and is timed from
// spawn to exit; kcat exits after every message is acknowledged (acks=all, i.e. after fsync), so the
// time includes start-up, metadata and the last fsync. Each produce runs twice (two topics) and the
// faster run is reported, with the other beside it. 8 partitions: one kcat with `-p -1`, librdkafka's
// default partitioner, which for messages without a key picks a partition at random and keeps it for
// `sticky.partitioning.linger.ms` (10 ms) — one process, batches spread over all 8 partitions (the
// per-partition counts are printed). One kcat per partition would put 8 producer processes on this
// 2-core machine and measure the scheduler. Consume: kcat -C -o beginning -c <N> -e -q to /dev/null,
// timed from spawn to exit, best of two runs. `-c N` exits on the N-th message: with `-e` alone kcat
// would also wait for one empty long-poll Fetch at the end (fetch.wait.max.ms, 500 ms), which is the
// protocol working as designed, not throughput. Counts are checked against the high watermarks
// (ListOffsets) after each produce.
//
// Every run also reports CPU use (of one core, from /proc): the broker process (all threads), kcat,
// and everything else on the machine — a shared machine's other work skews the figures, so it is shown.
// The throughput broker runs with --trace-gc so its GC time per run (pauses and incremental marking
// steps on the main thread) is known without a profiler.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCpuProfile, summarizeProfile, profileBounds, type ProfileSummary } from './cpu-profile.js';
import { fixedRateLatency, type LatencyResult } from './latency.js';
import {
  diskWriteSync,
  fsyncProbe,
  KCAT_MISSING,
  loadAverage,
  loopbackTcp,
  machineBusyCpuSeconds,
  machineFacts,
  timerLateness,
  type DiskResult,
} from './machine-limits.js';
import { runKcat, startBrokerProcess, type BrokerProcess, type KcatRun, type ThreadCpu } from './processes.js';
import { produceFlood } from './produce-flood.js';
import { WireClient } from './wire-client.js';

// Targets from issue 5, on the 2-core machine.
const TARGET_PRODUCE_MSG_PER_S = 500_000;
const TARGET_CONSUME_MSG_PER_S = 1_000_000;
const TARGET_P99_MS = 5;

interface Scale {
  name: string;
  /** Messages per produce run, by value size. */
  messages: Record<number, number>;
  /** Messages per Node-generator produce run, by value size. */
  floodMessages: Record<number, number>;
  diskMsPerMode: number;
  loopbackMs: number;
  latencyMs: number;
  latencyWarmupMs: number;
}

const FULL: Scale = {
  name: 'full',
  messages: { 100: 2_000_000, 1024: 500_000 },
  floodMessages: { 100: 4_000_000, 1024: 600_000 },
  diskMsPerMode: 700,
  loopbackMs: 2000,
  latencyMs: 10_000,
  latencyWarmupMs: 1000,
};
const QUICK: Scale = {
  name: 'quick',
  messages: { 100: 300_000, 1024: 100_000 },
  floodMessages: { 100: 600_000, 1024: 100_000 },
  diskMsPerMode: 250,
  loopbackMs: 1000,
  latencyMs: 3000,
  latencyWarmupMs: 500,
};

const VALUE_SIZES = [100, 1024] as const;
const PARTITION_COUNTS = [1, 8] as const;
/** kcat runs are killed after this; a healthy run takes seconds. */
const KCAT_TIMEOUT_MS = 90_000;
const LATENCY_RATE = 5000;
const LATENCY_VALUE_BYTES = 1024;
const PROFILE_INTERVAL_US = 500;
const PROFILE_TOP = 15;
/** Produce requests the Node generator keeps outstanding (librdkafka pipelines up to 5 by default, more here). */
const FLOOD_IN_FLIGHT = 8;

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

interface ThroughputRow {
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
interface Usage {
  brokerCpuSeconds: number;
  /** The broker's CPU by thread. */
  brokerThreads: ThreadCpu;
  /** kcat, or this process when the client is the Node generator. */
  clientCpuSeconds: number;
  /** The machine's busy CPU time less broker, kcat and this process: other people's work. */
  otherCpuSeconds: number;
  gcPauseMs: number;
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
function writeMessageFile(path: string, count: number, valueBytes: number): void {
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

function producerArgs(bootstrap: string, topic: string, file: string, partitions: number): string[] {
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

function consumerArgs(bootstrap: string, topic: string, messages: number): string[] {
  return ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-c', String(messages), '-e', '-q'];
}

async function throughputRuns(
  broker: BrokerProcess,
  dataDir: string,
  files: Map<number, string>,
  scale: Scale,
): Promise<ThroughputRow[]> {
  const admin = await WireClient.connect(broker.host, broker.port);
  const rows: ThroughputRow[] = [];
  try {
    for (const valueBytes of VALUE_SIZES) {
      for (const partitions of PARTITION_COUNTS) {
        const messages = scale.messages[valueBytes]!;
        // Two produce runs into two topics; the faster one is reported (the machine may be shared).
        const runs: { topic: string; produced: { run: KcatRun; usage: Usage }; spread: number[]; logBytes: number }[] =
          [];
        for (const attempt of ['a', 'b']) {
          const topic = `bench-${valueBytes}b-${partitions}p-${attempt}`;
          await admin.createTopic(topic, partitions);
          const produced = await measured(
            broker,
            producerArgs(broker.bootstrap, topic, files.get(valueBytes)!, partitions),
          );
          const spread = await admin.highWatermarks(topic, partitions);
          const stored = spread.reduce((a, b) => a + b, 0);
          if (stored !== messages)
            throw new Error(`${topic}: kcat produced ${messages} messages but the high watermarks add up to ${stored}`);
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
        printThroughput(rows.at(-1)!);

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
        printThroughput(rows.at(-1)!);
      }
    }
  } finally {
    admin.close();
  }
  return rows;
}

/** The broker's produce ceiling with the Node generator (produce-flood.ts): no per-message client work. */
async function floodRuns(broker: BrokerProcess, dataDir: string, scale: Scale): Promise<ThroughputRow[]> {
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
        printThroughput(rows.at(-1)!);
      }
    }
  } finally {
    admin.close();
  }
  return rows;
}

const mb = (bytes: number, seconds: number): number => bytes / seconds / 1e6;
const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function runLabel(row: ThroughputRow): string {
  return `${row.kind}${row.client === 'node' ? ' (Node)' : ''} ${row.valueBytes === 1024 ? '1 KiB' : `${row.valueBytes} B`} x ${row.partitions}p`;
}

function printThroughput(row: ThroughputRow): void {
  const percent = (cpuSeconds: number): string => fixed((cpuSeconds / row.seconds) * 100);
  const { usage } = row;
  const threads = usage.brokerThreads;
  console.log(
    `  ${runLabel(row).padEnd(29)} ${thousands(row.messages).padStart(9)} in ${fixed(row.seconds, 2).padStart(5)} s ` +
      `${thousands(row.messages / row.seconds).padStart(9)} msg/s ${fixed(mb(row.messages * row.valueBytes, row.seconds), 1).padStart(6)} MB/s values ` +
      `${fixed(mb(row.logBytes, row.seconds), 1).padStart(6)} MB/s batches` +
      (row.otherSeconds !== undefined ? `  (other run ${fixed(row.otherSeconds, 2)} s)` : ''),
  );
  console.log(
    `      cpu %: broker ${percent(usage.brokerCpuSeconds)} (main thread ${percent(threads.mainUser)} user + ${percent(threads.mainSystem)} sys, ` +
      `other threads ${percent(threads.otherUser)} user + ${percent(threads.otherSystem)} sys), ${row.client === 'kcat' ? 'kcat' : 'Node generator'} ${percent(usage.clientCpuSeconds)}, others ${percent(usage.otherCpuSeconds)}; ` +
      `broker GC ${fixed(usage.gcPauseMs)} ms of main thread` +
      (row.spread !== undefined && row.spread.length > 1 ? `; per partition ${row.spread.join(' ')}` : ''),
  );
}

function printProfile(title: string, summary: ProfileSummary): void {
  console.log(`\n${title}`);
  console.log(
    `  wall ${fixed(summary.wallMs)} ms, broker main thread busy ${fixed(summary.busyMs)} ms (${fixed((summary.busyMs / summary.wallMs) * 100)}%)`,
  );
  console.log('  self ms   % busy  function                                  location');
  for (const entry of summary.top) {
    console.log(
      `  ${fixed(entry.selfMs).padStart(7)}  ${fixed((entry.selfMs / summary.busyMs) * 100, 1).padStart(6)}  ${entry.functionName.slice(0, 40).padEnd(40)}  ${entry.location}`,
    );
  }
  const areas = [...summary.areas.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  console.log(`  by area: ${areas.map(([area, ms]) => `${area} ${fixed((ms / summary.busyMs) * 100)}%`).join(', ')}`);
}

export async function run(): Promise<void> {
  const scale = process.argv.includes('--quick') ? QUICK : FULL;
  const benchStart = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const dataDir = join(workDir, 'data');
  let broker: BrokerProcess | null = null;
  try {
    // ── machine facts and limits ───────────────────────────────────────────────────────────
    const facts = machineFacts(workDir);
    console.log(`scale: ${scale.name}${scale === FULL ? ' (--quick for a ~30 s run)' : ''}`);
    console.log(
      `machine: ${facts.cpuModel}, ${facts.cores} cores, ${fixed(facts.memoryGiB, 1)} GiB memory, ${fixed(facts.diskFreeGiB, 1)} GiB free at ${tmpdir()}`,
    );
    console.log(`software: node ${facts.node}, ${facts.kcat}`);
    console.log(`load average at start: ${loadAverage()}`);

    console.log('\nmachine limits (measured now; disk = a new file in the same directory as the broker data)');
    const disk: DiskResult[] = [];
    for (const [writeBytes, writesPerSync] of [
      [16 * 1024, 1],
      [256 * 1024, 1],
      [1024 * 1024, 1],
      [64 * 1024, 16],
    ] as const) {
      const result = diskWriteSync(workDir, writeBytes, writesPerSync, scale.diskMsPerMode, 2 * 1024 ** 3);
      disk.push(result);
      console.log(
        `  disk: ${result.label.padEnd(34)} ${fixed(result.mbPerSecond, 1).padStart(6)} MB/s ${fixed(result.syncsPerSecond).padStart(5)} fdatasync/s  ` +
          `round p50 ${fixed(result.roundP50Ms, 2)} p99 ${fixed(result.roundP99Ms, 2)} max ${fixed(result.roundMaxMs, 2)} ms  cpu ${fixed(result.cpuMsPerMb, 2)} ms/MB`,
      );
    }
    const diskBest = disk.reduce((best, r) => (r.mbPerSecond > best.mbPerSecond ? r : best));
    const fsync = disk[0]!;
    const loopback = await loopbackTcp(scale.loopbackMs);
    console.log(`  loopback TCP, 64 KiB writes, sender and reader on two threads: ${fixed(loopback.mbPerSecond)} MB/s`);
    const jitter = await timerLateness(1000);
    console.log(
      `  scheduling noise: a 1 ms timer in an idle event loop fires late by p50 ${fixed(jitter.p50Ms, 2)} p99 ${fixed(jitter.p99Ms, 2)} max ${fixed(jitter.maxMs, 2)} ms`,
    );
    console.log(
      `  for the ratios below: disk ${fixed(diskBest.mbPerSecond)} MB/s (best mode: ${diskBest.label}), loopback ${fixed(loopback.mbPerSecond)} MB/s, 16 KiB write+fdatasync p99 ${fixed(fsync.roundP99Ms, 2)} ms`,
    );

    const files = new Map<number, string>();
    for (const valueBytes of VALUE_SIZES) {
      const path = join(workDir, `values-${valueBytes}.txt`);
      writeMessageFile(path, scale.messages[valueBytes]!, valueBytes);
      files.set(valueBytes, path);
    }
    // The message files are hundreds of MB of dirty page cache; write them back now, so that the
    // latency run does not pay for their writeback in its fsyncs.
    execFileSync('sync', { timeout: 60_000 });
    broker = await startBrokerProcess(dataDir, ['--trace-gc']);

    // ── latency at a fixed rate (first, on a quiet disk) ───────────────────────────────────
    console.log(
      `\nlatency: ${LATENCY_RATE} msg/s x ${LATENCY_VALUE_BYTES} B for ${scale.latencyMs / 1000} s (first ${scale.latencyWarmupMs} ms not counted), 1 partition, fresh broker pid ${broker.pid}`,
    );
    console.log(
      '  method: Node producer on our codecs sends the messages due every ~1 ms timer tick as one record batch in one',
    );
    console.log(
      '          Produce v7 (acks=-1, pipelined); each value starts with its send time. A Node long-poll Fetch v11',
    );
    console.log(
      '          consumer (max_wait_ms 500, min_bytes 1) on another connection takes arrival − send time per record.',
    );
    console.log(
      '          One process, one clock. Includes fsync (the high watermark moves after fdatasync) and the Fetch wake-up.',
    );
    const admin = await WireClient.connect(broker.host, broker.port);
    await admin.createTopic('bench-latency', 1);
    admin.close();
    const busyBefore = machineBusyCpuSeconds();
    const brokerCpuBefore = broker.cpuSeconds();
    const latencyStart = performance.now();
    const probe = fsyncProbe(workDir, scale.latencyMs);
    const latency: LatencyResult = await fixedRateLatency(broker.host, broker.port, 'bench-latency', {
      rate: LATENCY_RATE,
      valueBytes: LATENCY_VALUE_BYTES,
      durationMs: scale.latencyMs,
      warmupMs: scale.latencyWarmupMs,
    });
    const latencySeconds = scale.latencyMs / 1000;
    const brokerLatencyCpu = broker.cpuSeconds() - brokerCpuBefore;
    const machineLatencyCpu = machineBusyCpuSeconds() - busyBefore;
    const e2e = latency.endToEnd;
    const ack = latency.produceAck;
    const gcPauses = broker.gcPausesSince(latencyStart);
    const diskMeanwhile = await probe;
    console.log(
      `  produce→consume: p50 ${fixed(e2e.p50, 2)} ms, p99 ${fixed(e2e.p99, 2)} ms, p999 ${fixed(e2e.p999, 2)} ms, max ${fixed(e2e.max, 2)} ms, mean ${fixed(e2e.mean, 2)} ms (${thousands(e2e.count)} messages)`,
    );
    console.log(
      `  produce ack (acks=-1): p50 ${fixed(ack.p50, 2)} ms, p99 ${fixed(ack.p99, 2)} ms, p999 ${fixed(ack.p999, 2)} ms (${thousands(ack.count)} requests)`,
    );
    console.log(
      `  sent ${thousands(latency.sent)}, received ${thousands(latency.received)} in ${thousands(latency.produceRequests)} produce requests; producer tick lag mean ${fixed(latency.sendLagMeanMs, 2)} ms, ` +
        `max ${fixed(latency.sendLagMaxMs, 2)} ms`,
    );
    console.log(
      `  cpu: broker ${fixed((brokerLatencyCpu / latencySeconds) * 100)}%, whole machine ${fixed((machineLatencyCpu / latencySeconds) * 100)}% (of one core); ` +
        `broker GC: ${gcPauses.length} collections, ${fixed(
          gcPauses.reduce((sum, gc) => sum + gc.pauseMs + gc.stepsMs, 0),
          1,
        )} ms of main thread in all, ` +
        `longest pause ${fixed(Math.max(0, ...gcPauses.map((gc) => gc.pauseMs)), 2)} ms`,
    );
    console.log(
      `  control: the disk meanwhile (4 KiB write + fdatasync every 10 ms, another file, a worker thread): p50 ${fixed(diskMeanwhile.p50Ms, 2)} p99 ${fixed(diskMeanwhile.p99Ms, 2)} max ${fixed(diskMeanwhile.maxMs, 2)} ms`,
    );

    // ── throughput with kcat ───────────────────────────────────────────────────────────────
    console.log(
      `\nthroughput: same broker (log.flush.policy=sync, --trace-gc); kcat -P -X acks=all -X linger.ms=5 -X batch.num.messages=10000 -z none -l <file>`,
    );
    console.log(
      '  (8 partitions: -p -1, random sticky partitioner); kcat -C -o beginning -c <N> -e -q >/dev/null; each run twice, the faster shown;',
    );
    console.log('  cpu in % of one core; "others" = the rest of the machine (other users, the kernel) during the run');
    const haveKcat = facts.kcat !== KCAT_MISSING;
    if (!haveKcat)
      console.log('  kcat is not installed (Debian: apt-get install kcat): skipping the kcat runs and the profile');
    const rows = haveKcat ? await throughputRuns(broker, dataDir, files, scale) : [];
    console.log(
      `\nbroker produce ceiling: Node generator on our codecs, one pre-encoded ~1 MB batch re-sent, ${FLOOD_IN_FLIGHT} Produce v7 in flight, acks=-1,`,
    );
    console.log(
      '  one partition per request round-robin: the client does no per-message work, so this is what the broker ingests',
    );
    rows.push(...(await floodRuns(broker, dataDir, scale)));
    await broker.stop();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });

    // ── figures beside the limits ──────────────────────────────────────────────────────────
    console.log(
      '\nsummary: each figure beside its machine limit (produce: batch MB/s ÷ disk write+fdatasync MB/s; consume: batch MB/s ÷ loopback MB/s)',
    );
    console.log(
      '  broker cpu = CPU time of the broker process (all threads) per message and per MB of batches: it varies less',
    );
    console.log('  than wall time when the machine is shared');
    console.log(
      '  run                             msg/s  MB/s values  MB/s batches  ÷ limit  broker cpu µs/msg  ms/MB  issue target',
    );
    for (const row of rows) {
      const rate = row.messages / row.seconds;
      const batchMb = mb(row.logBytes, row.seconds);
      const limit = row.kind === 'produce' ? diskBest.mbPerSecond : loopback.mbPerSecond;
      const target =
        row.valueBytes === 100 && row.client === 'kcat'
          ? row.kind === 'produce'
            ? TARGET_PRODUCE_MSG_PER_S
            : TARGET_CONSUME_MSG_PER_S
          : null;
      const verdict =
        target === null
          ? '-'
          : `≥ ${thousands(target)} msg/s: ${rate >= target ? 'met' : `not met (${fixed((rate / target) * 100)}%)`}`;
      const cpuPerMessageUs = (row.usage.brokerCpuSeconds / row.messages) * 1e6;
      const cpuPerMbMs = (row.usage.brokerCpuSeconds / (row.logBytes / 1e6)) * 1000;
      console.log(
        `  ${runLabel(row).padEnd(29)} ${thousands(rate).padStart(9)}  ${fixed(mb(row.messages * row.valueBytes, row.seconds), 1).padStart(11)}  ${fixed(batchMb, 1).padStart(12)}  ` +
          `${fixed(batchMb / limit, 2).padStart(7)}  ${fixed(cpuPerMessageUs, 2).padStart(17)}  ${fixed(cpuPerMbMs, 1).padStart(5)}  ${verdict}`,
      );
    }
    console.log(
      `  latency ${LATENCY_RATE}/s x 1 KiB  p50 ${fixed(e2e.p50, 2)} ms, p99 ${fixed(e2e.p99, 2)} ms, p999 ${fixed(e2e.p999, 2)} ms; p99 ÷ raw fdatasync p99 ${fixed(e2e.p99 / fsync.roundP99Ms, 1)} (16 KiB, before), ` +
        `${fixed(e2e.p99 / diskMeanwhile.p99Ms, 1)} (4 KiB, during); ` +
        `target p99 ≤ ${TARGET_P99_MS} ms: ${e2e.p99 <= TARGET_P99_MS ? 'met' : 'not met'}`,
    );

    // ── where the time goes ────────────────────────────────────────────────────────────────
    if (!haveKcat) return;
    const profileDir = join(workDir, 'profile');
    const profileDataDir = join(workDir, 'profile-data');
    // The 100-byte message file of the throughput runs, produced once more.
    const profileFile = files.get(100)!;
    const profileMessages = scale.messages[100]!;
    broker = await startBrokerProcess(profileDataDir, [
      '--cpu-prof',
      '--cpu-prof-dir',
      profileDir,
      `--cpu-prof-interval=${PROFILE_INTERVAL_US}`,
    ]);
    const profileAdmin = await WireClient.connect(broker.host, broker.port);
    await profileAdmin.createTopic('bench-profile', 1);
    profileAdmin.close();
    const produceFromUs = Number(process.hrtime.bigint() / 1000n);
    const produced = await runKcat(producerArgs(broker.bootstrap, 'bench-profile', profileFile, 1), KCAT_TIMEOUT_MS);
    const produceToUs = Number(process.hrtime.bigint() / 1000n);
    const consumed = await runKcat(consumerArgs(broker.bootstrap, 'bench-profile', profileMessages), KCAT_TIMEOUT_MS);
    const consumeToUs = Number(process.hrtime.bigint() / 1000n);
    await broker.stop();
    broker = null;
    const profiles = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'));
    if (profiles.length !== 1) throw new Error(`expected one .cpuprofile in ${profileDir}, found ${profiles.length}`);
    const profile = readCpuProfile(join(profileDir, profiles[0]!));
    const bounds = profileBounds(profile);
    const windowsFit = produceFromUs >= bounds.startUs && consumeToUs <= bounds.endUs;
    console.log(
      `\nwhere the time goes: a second broker under node --cpu-prof (sampled every ${PROFILE_INTERVAL_US} µs), kcat produce then consume`,
    );
    console.log(
      `  ${thousands(profileMessages)} x 100 B on 1 partition: produce ${fixed(produced.seconds, 2)} s (${thousands(profileMessages / produced.seconds)} msg/s under the profiler), consume ${fixed(consumed.seconds, 2)} s`,
    );
    console.log(
      '  caveats: main thread only (fdatasync and writes run on the libuv pool); samples are wall-clock, so a native call',
    );
    console.log(
      '  also collects time the thread sat preempted on this 2-core machine; the profiler itself adds GC (compare the',
    );
    console.log('  --trace-gc figures in the throughput rows above)');
    if (windowsFit) {
      printProfile(
        'top self time during the produce run',
        summarizeProfile(profile, repositoryRoot, PROFILE_TOP, produceFromUs, produceToUs),
      );
      printProfile(
        'top self time during the consume run',
        summarizeProfile(profile, repositoryRoot, 10, produceToUs, consumeToUs),
      );
    } else {
      console.log('  (the profile clock does not line up with process.hrtime here; showing the whole profile)');
      printProfile('top self time, whole broker run', summarizeProfile(profile, repositoryRoot, PROFILE_TOP));
    }
    console.log(
      `\nload average at end: ${loadAverage()}; bench took ${fixed((performance.now() - benchStart) / 1000, 1)} s`,
    );
  } finally {
    if (broker !== null) await broker.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
