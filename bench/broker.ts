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
// client work); each figure beside its machine limit and the target; and a CPU profile of the
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
//
// The parts: broker-scale.ts (run sizes, targets), broker-throughput.ts (the kcat and Node generator
// runs and their CPU accounting), broker-report.ts (printing rows, the summary, a profile),
// broker-profile.ts (the profiled broker); this file runs them in order with the machine limits and
// the latency run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileRun } from './broker-profile.js';
import { fixed, printSummary, printThroughput, thousands } from './broker-report.js';
import { FLOOD_IN_FLIGHT, FULL, QUICK, VALUE_SIZES, type Scale } from './broker-scale.js';
import { floodRuns, throughputRuns, writeMessageFile } from './broker-throughput.js';
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
import { startBrokerProcess, type BrokerProcess } from './processes.js';
import { WireClient } from './wire-client.js';

const LATENCY_RATE = 5000;
const LATENCY_VALUE_BYTES = 1024;

/** The machine's limits, measured now, that the summary puts each figure beside. */
interface MachineLimits {
  diskBest: DiskResult;
  /** 16 KiB write + fdatasync, the raw cost of one small durable write. */
  fsync: DiskResult;
  loopbackMbPerSecond: number;
}

async function measureMachineLimits(workDir: string, scale: Scale): Promise<MachineLimits> {
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
      `  disk: ${result.label.padEnd(34)} ${fixed(result.mbPerSecond, 1).padStart(6)} MB/s ` +
        `${fixed(result.syncsPerSecond).padStart(5)} fdatasync/s  ` +
        `round p50 ${fixed(result.roundP50Ms, 2)} p99 ${fixed(result.roundP99Ms, 2)} ` +
        `max ${fixed(result.roundMaxMs, 2)} ms` +
        `  cpu ${fixed(result.cpuMsPerMb, 2)} ms/MB`,
    );
  }
  const diskBest = disk.reduce((best, r) => (r.mbPerSecond > best.mbPerSecond ? r : best));
  const fsync = disk[0]!;
  const loopback = await loopbackTcp(scale.loopbackMs);
  console.log(`  loopback TCP, 64 KiB writes, sender and reader on two threads: ${fixed(loopback.mbPerSecond)} MB/s`);
  const jitter = await timerLateness(1000);
  console.log(
    '  scheduling noise: a 1 ms timer in an idle event loop fires late by ' +
      `p50 ${fixed(jitter.p50Ms, 2)} p99 ${fixed(jitter.p99Ms, 2)} max ${fixed(jitter.maxMs, 2)} ms`,
  );
  console.log(
    `  for the ratios below: disk ${fixed(diskBest.mbPerSecond)} MB/s (best mode: ${diskBest.label}), ` +
      `loopback ${fixed(loopback.mbPerSecond)} MB/s, 16 KiB write+fdatasync p99 ${fixed(fsync.roundP99Ms, 2)} ms`,
  );
  return { diskBest, fsync, loopbackMbPerSecond: loopback.mbPerSecond };
}

/** Produce→consume latency at a fixed rate on a fresh broker, with an fdatasync probe beside it. */
async function latencyRun(
  broker: BrokerProcess,
  workDir: string,
  scale: Scale,
): Promise<{ latency: LatencyResult; diskMeanwhileP99Ms: number }> {
  console.log(
    `\nlatency: ${LATENCY_RATE} msg/s x ${LATENCY_VALUE_BYTES} B for ${scale.latencyMs / 1000} s ` +
      `(first ${scale.latencyWarmupMs} ms not counted), 1 partition, fresh broker pid ${broker.pid}`,
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
    '          One process, one clock. ' +
      'Includes fsync (the high watermark moves after fdatasync) and the Fetch wake-up.',
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
  const gcMs = gcPauses.reduce((sum, gc) => sum + gc.pauseMs + gc.stepsMs, 0);
  const diskMeanwhile = await probe;
  console.log(
    `  produce→consume: p50 ${fixed(e2e.p50, 2)} ms, p99 ${fixed(e2e.p99, 2)} ms, p999 ${fixed(e2e.p999, 2)} ms, ` +
      `max ${fixed(e2e.max, 2)} ms, mean ${fixed(e2e.mean, 2)} ms (${thousands(e2e.count)} messages)`,
  );
  console.log(
    `  produce ack (acks=-1): p50 ${fixed(ack.p50, 2)} ms, p99 ${fixed(ack.p99, 2)} ms, ` +
      `p999 ${fixed(ack.p999, 2)} ms (${thousands(ack.count)} requests)`,
  );
  console.log(
    `  sent ${thousands(latency.sent)}, received ${thousands(latency.received)} ` +
      `in ${thousands(latency.produceRequests)} produce requests; ` +
      `producer tick lag mean ${fixed(latency.sendLagMeanMs, 2)} ms, ` +
      `max ${fixed(latency.sendLagMaxMs, 2)} ms`,
  );
  console.log(
    `  cpu: broker ${fixed((brokerLatencyCpu / latencySeconds) * 100)}%, ` +
      `whole machine ${fixed((machineLatencyCpu / latencySeconds) * 100)}% (of one core); ` +
      `broker GC: ${gcPauses.length} collections, ${fixed(gcMs, 1)} ms of main thread in all, ` +
      `longest pause ${fixed(Math.max(0, ...gcPauses.map((gc) => gc.pauseMs)), 2)} ms`,
  );
  console.log(
    '  control: the disk meanwhile (4 KiB write + fdatasync every 10 ms, another file, a worker thread): ' +
      `p50 ${fixed(diskMeanwhile.p50Ms, 2)} p99 ${fixed(diskMeanwhile.p99Ms, 2)} ` +
      `max ${fixed(diskMeanwhile.maxMs, 2)} ms`,
  );
  return { latency, diskMeanwhileP99Ms: diskMeanwhile.p99Ms };
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
      `machine: ${facts.cpuModel}, ${facts.cores} cores, ${fixed(facts.memoryGiB, 1)} GiB memory, ` +
        `${fixed(facts.diskFreeGiB, 1)} GiB free at ${tmpdir()}`,
    );
    console.log(`software: node ${facts.node}, ${facts.kcat}`);
    console.log(`load average at start: ${loadAverage()}`);
    const limits = await measureMachineLimits(workDir, scale);

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
    const { latency, diskMeanwhileP99Ms } = await latencyRun(broker, workDir, scale);

    // ── throughput with kcat ───────────────────────────────────────────────────────────────
    console.log(
      '\nthroughput: same broker (log.flush.policy=sync, --trace-gc); ' +
        'kcat -P -X acks=all -X linger.ms=5 -X batch.num.messages=10000 -z none -l <file>',
    );
    console.log(
      '  (8 partitions: -p -1, random sticky partitioner); kcat -C -o beginning -c <N> -e -q >/dev/null; ' +
        'each run twice, the faster shown;',
    );
    console.log('  cpu in % of one core; "others" = the rest of the machine (other users, the kernel) during the run');
    const haveKcat = facts.kcat !== KCAT_MISSING;
    if (!haveKcat)
      console.log('  kcat is not installed (Debian: apt-get install kcat): skipping the kcat runs and the profile');
    const rows = haveKcat ? await throughputRuns(broker, dataDir, files, scale, printThroughput) : [];
    console.log(
      '\nbroker produce ceiling: Node generator on our codecs, one pre-encoded ~1 MB batch re-sent, ' +
        `${FLOOD_IN_FLIGHT} Produce v7 in flight, acks=-1,`,
    );
    console.log(
      '  one partition per request round-robin: the client does no per-message work, ' +
        'so this is what the broker ingests',
    );
    rows.push(...(await floodRuns(broker, dataDir, scale, printThroughput)));
    await broker.stop();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });

    // ── figures beside the limits ──────────────────────────────────────────────────────────
    printSummary(rows, {
      diskMbPerSecond: limits.diskBest.mbPerSecond,
      loopbackMbPerSecond: limits.loopbackMbPerSecond,
      fsyncP99Ms: limits.fsync.roundP99Ms,
      diskMeanwhileP99Ms,
      latencyRate: LATENCY_RATE,
      endToEnd: latency.endToEnd,
    });

    // ── where the time goes ────────────────────────────────────────────────────────────────
    if (!haveKcat) return;
    // The 100-byte message file of the throughput runs, produced once more.
    await profileRun(workDir, files.get(100)!, scale.messages[100]!);
    console.log(
      `\nload average at end: ${loadAverage()}; bench took ${fixed((performance.now() - benchStart) / 1000, 1)} s`,
    );
  } finally {
    if (broker !== null) await broker.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
