// How the broker bench prints its figures: number formats, one throughput row as it is measured,
// the summary table that puts each figure beside its machine limit and the issue's target, and a
// CPU profile's top self times. Printing only: every figure is measured elsewhere.
import type { ProfileSummary } from './cpu-profile.js';
import type { Percentiles } from './latency.js';
import type { ThroughputRow } from './broker-throughput.js';
import { TARGET_CONSUME_MSG_PER_S, TARGET_P99_MS, TARGET_PRODUCE_MSG_PER_S } from './broker-scale.js';

export const mb = (bytes: number, seconds: number): number => bytes / seconds / 1e6;
export const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
export const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function runLabel(row: ThroughputRow): string {
  const client = row.client === 'node' ? ' (Node)' : '';
  const size = row.valueBytes === 1024 ? '1 KiB' : `${row.valueBytes} B`;
  return `${row.kind}${client} ${size} x ${row.partitions}p`;
}

/** One throughput row, printed as soon as it is measured: rates, then CPU by process and thread. */
export function printThroughput(row: ThroughputRow): void {
  const percent = (cpuSeconds: number): string => fixed((cpuSeconds / row.seconds) * 100);
  const { usage } = row;
  const threads = usage.brokerThreads;
  const valuesMb = fixed(mb(row.messages * row.valueBytes, row.seconds), 1).padStart(6);
  const batchesMb = fixed(mb(row.logBytes, row.seconds), 1).padStart(6);
  const client = row.client === 'kcat' ? 'kcat' : 'Node generator';
  console.log(
    `  ${runLabel(row).padEnd(29)} ${thousands(row.messages).padStart(9)} in ${fixed(row.seconds, 2).padStart(5)} s ` +
      `${thousands(row.messages / row.seconds).padStart(9)} msg/s ${valuesMb} MB/s values ` +
      `${batchesMb} MB/s batches` +
      (row.otherSeconds !== undefined ? `  (other run ${fixed(row.otherSeconds, 2)} s)` : ''),
  );
  console.log(
    `      cpu %: broker ${percent(usage.brokerCpuSeconds)} ` +
      `(main thread ${percent(threads.mainUser)} user + ${percent(threads.mainSystem)} sys, ` +
      `other threads ${percent(threads.otherUser)} user + ${percent(threads.otherSystem)} sys), ` +
      `${client} ${percent(usage.clientCpuSeconds)}, others ${percent(usage.otherCpuSeconds)}; ` +
      `broker GC ${fixed(usage.gcPauseMs)} ms of main thread` +
      (row.spread !== undefined && row.spread.length > 1 ? `; per partition ${row.spread.join(' ')}` : ''),
  );
}

/** The machine limits the summary divides by, and the latency figures it repeats. */
export interface SummaryLimits {
  /** The best disk write + fdatasync mode, for produce. */
  diskMbPerSecond: number;
  /** Loopback TCP, for consume. */
  loopbackMbPerSecond: number;
  /** 16 KiB write + fdatasync p99, measured before the broker started. */
  fsyncP99Ms: number;
  /** The fdatasync probe's p99 during the latency run. */
  diskMeanwhileP99Ms: number;
  latencyRate: number;
  endToEnd: Percentiles;
}

/** The summary table: each throughput row beside its machine limit and target, then latency. */
export function printSummary(rows: ThroughputRow[], limits: SummaryLimits): void {
  console.log(
    '\nsummary: each figure beside its machine limit ' +
      '(produce: batch MB/s ÷ disk write+fdatasync MB/s; consume: batch MB/s ÷ loopback MB/s)',
  );
  console.log(
    '  broker cpu = CPU time of the broker process (all threads) per message and per MB of batches: it varies less',
  );
  console.log('  than wall time when the machine is shared');
  console.log(
    '  run                             msg/s  MB/s values  MB/s batches  ÷ limit' +
      '  broker cpu µs/msg  ms/MB  issue target',
  );
  for (const row of rows) {
    const rate = row.messages / row.seconds;
    const batchMb = mb(row.logBytes, row.seconds);
    const limit = row.kind === 'produce' ? limits.diskMbPerSecond : limits.loopbackMbPerSecond;
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
    const valuesMb = fixed(mb(row.messages * row.valueBytes, row.seconds), 1).padStart(11);
    console.log(
      `  ${runLabel(row).padEnd(29)} ${thousands(rate).padStart(9)}  ${valuesMb}  ${fixed(batchMb, 1).padStart(12)}  ` +
        `${fixed(batchMb / limit, 2).padStart(7)}  ${fixed(cpuPerMessageUs, 2).padStart(17)}  ` +
        `${fixed(cpuPerMbMs, 1).padStart(5)}  ${verdict}`,
    );
  }
  const e2e = limits.endToEnd;
  console.log(
    `  latency ${limits.latencyRate}/s x 1 KiB  p50 ${fixed(e2e.p50, 2)} ms, p99 ${fixed(e2e.p99, 2)} ms, ` +
      `p999 ${fixed(e2e.p999, 2)} ms; ` +
      `p99 ÷ raw fdatasync p99 ${fixed(e2e.p99 / limits.fsyncP99Ms, 1)} (16 KiB, before), ` +
      `${fixed(e2e.p99 / limits.diskMeanwhileP99Ms, 1)} (4 KiB, during); ` +
      `target p99 ≤ ${TARGET_P99_MS} ms: ${e2e.p99 <= TARGET_P99_MS ? 'met' : 'not met'}`,
  );
}

/** A CPU profile window: wall and busy time, the top functions by self time, self time by area. */
export function printProfile(title: string, summary: ProfileSummary): void {
  const busyPercent = fixed((summary.busyMs / summary.wallMs) * 100);
  console.log(`\n${title}`);
  console.log(
    `  wall ${fixed(summary.wallMs)} ms, broker main thread busy ${fixed(summary.busyMs)} ms (${busyPercent}%)`,
  );
  console.log('  self ms   % busy  function                                  location');
  for (const entry of summary.top) {
    const share = fixed((entry.selfMs / summary.busyMs) * 100, 1).padStart(6);
    const name = entry.functionName.slice(0, 40).padEnd(40);
    console.log(`  ${fixed(entry.selfMs).padStart(7)}  ${share}  ${name}  ${entry.location}`);
  }
  const areas = [...summary.areas.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  console.log(`  by area: ${areas.map(([area, ms]) => `${area} ${fixed((ms / summary.busyMs) * 100)}%`).join(', ')}`);
}
