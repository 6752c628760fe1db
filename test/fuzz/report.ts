// The closing report of a fuzz run: frames by kind, unit and API, what happened to the connections,
// the broker's memory, the well-behaved clients, the broker's log, then one line per check.
import { cpus, totalmem } from 'node:os';
import type { FuzzResult } from './run.js';
import { apiName } from './stats.js';

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function counts(map: ReadonlyMap<string, number>): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function formatReport(result: FuzzResult): string[] {
  const { stats, options } = result;
  const out: string[] = [];
  const seconds = result.fuzzMs / 1000;
  out.push('');
  out.push(`seed ${options.seed}: ${stats.frames} frames over ${options.connections} connections`);
  out.push(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${mib(totalmem())}, node ${process.version}`);
  out.push(
    `wall ${(result.wallMs / 1000).toFixed(1)} s (fuzzing ${seconds.toFixed(1)} s), ` +
      `${seconds > 0 ? (stats.frames / seconds).toFixed(0) : '-'} frames/s, ` +
      `${mib(stats.bytesSent)} sent, ${stats.responses} responses (${mib(stats.responseBytes)})`,
  );
  out.push(`frames by kind: ${counts(stats.framesByKind)}`);
  out.push(`units: ${counts(stats.units)}`);
  out.push(`mutations and damages: ${counts(stats.ops)}`);
  const apis = [...stats.wellFormedByApi.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([key, e]) => `${apiName(key)} ${e.frames} (v${[...e.versions].sort((a, b) => a - b).join(',')})`);
  out.push(`well-formed frames by API (${apis.length} APIs): ${apis.join('; ')}`);
  const c = stats.connections;
  out.push(
    `connections: ${c.opened} opened, ${c.closedByBroker} closed by the broker, ${c.droppedStalled} dropped ` +
      `after ${1.5} s without an answer, ${c.cutMidFrame} cut mid-frame, ${c.idle} idle, ${c.refused} refused`,
  );
  if (stats.closedAfterWellFormed.size > 0)
    out.push(`closed by the broker after only well-formed frames, by last API: ${counts(stats.closedAfterWellFormed)}`);
  out.push(
    `broker RSS: min ${mib(result.rss.min)}, quartiles ${result.rss.quartiles.map(mib).join(' / ')}, ` +
      `max ${mib(result.rss.max)}, final ${mib(result.rss.last)}`,
  );
  if (result.encodeRetries > 0)
    out.push(`bodies refilled after the encoder refused an edge value: ${result.encodeRetries}`);
  if (result.log) {
    out.push(`broker log: ${result.log.lines} lines (${counts(result.log.byLevel)})`);
    const top = [...result.log.messages.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, 12);
    for (const [key, m] of top) out.push(`  ${m.count}× ${key}`);
  }
  // Node's own warnings (MaxListenersExceededWarning, deprecations) go to stderr, not to the log.
  const stderrLines = result.brokerStderr.trim() === '' ? [] : result.brokerStderr.trim().split('\n');
  if (stderrLines.length > 0 && result.checks.every((c) => c.ok)) {
    out.push(`broker stderr (${stderrLines.length} lines):`);
    out.push(...stderrLines.slice(0, 10).map((l) => `  ${l}`));
  }
  out.push('');
  for (const check of result.checks) out.push(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
  const failed = result.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    if (result.brokerStderr.trim() !== '') {
      out.push('broker stderr (tail):');
      out.push(
        ...result.brokerStderr
          .trim()
          .split('\n')
          .slice(-30)
          .map((l) => `  ${l}`),
      );
    }
    out.push(`kept ${result.workDir} (broker logs, data, recent-frames.jsonl: the last units of each connection)`);
    out.push(
      `replay: npm run fuzz -- --seed ${options.seed} --frames ${options.frames === Infinity ? 'N' : options.frames} ` +
        `--connections ${options.connections}`,
    );
  }
  out.push(failed.length === 0 ? 'PASS' : `FAIL (${failed.length} of ${result.checks.length} checks)`);
  return out;
}
