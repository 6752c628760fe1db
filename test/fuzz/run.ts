// One fuzz run, start to finish: a broker process on a temp data dir; the fuzzer's topics, the golden
// data (golden.ts) and its snapshot; the APIs and versions the broker advertises (ApiVersions) and the
// topic ids it assigned (Metadata); the well-behaved clients (well-behaved.ts); the fuzz slots
// (frames.ts, driver.ts) with RSS samples and a liveness probe throughout; then the checks:
//
//   check            passes when
//   frames           every frame was sent (or the duration ran out), the broker never exited
//   alive            ApiVersions and Metadata answered on a new connection after the run
//   order            every response on a well-formed connection came in request order
//   probes           every probe during the run was answered within PROBE_TIMEOUT_MS
//   rss              the broker's VmRSS never went above the bound
//   well-behaved     no client saw an error; every message consumed once, in order per partition
//   golden           the golden partitions read back byte-identical, after the run and after a restart
//   log              the broker logged nothing at error or fatal level
//   shutdown         SIGTERM stops the broker with exit code 0
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { defaultPaths, loadSchemas, type Message } from '../../scripts/generate-protocol.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { probe, RssSampler, startFuzzBroker, summarizeLog, type FuzzBroker, type LogSummary } from './broker.js';
import { FuzzDriver } from './driver.js';
import { FrameSource, fuzzApis, type FuzzApi } from './frames.js';
import { compareGolden, describeGolden, GOLDEN_LAYOUT, snapshotGolden, writeGolden } from './golden.js';
import { FuzzStats } from './stats.js';
import { FUZZ_TOPIC_CONFIGS, FUZZ_TOPICS, WELL_BEHAVED } from './vocabulary.js';
import { KafkajsPair, KcatPair, type WellBehavedReport } from './well-behaved.js';

const { Kafka, logLevel } = kafkajs;

export interface FuzzOptions {
  seed: number;
  /** Frames in all, over every connection; Infinity with a duration. */
  frames: number;
  connections: number;
  /** Stop after this long even if frames are left; Infinity for no limit. */
  durationMs: number;
  rssMaxBytes: number;
  /** Broker settings (`name=value`) on top of the defaults. */
  overrides: string[];
  /** Keep the temp dir (data, logs) even when the run passes. */
  keep: boolean;
  log: (line: string) => void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface FuzzResult {
  options: FuzzOptions;
  checks: Check[];
  stats: FuzzStats;
  wallMs: number;
  fuzzMs: number;
  rss: { min: number; max: number; last: number; quartiles: number[] };
  probes: { count: number; failures: string[]; maxLatencyMs: number };
  wellBehaved: WellBehavedReport[];
  golden: string[];
  log: LogSummary | null;
  apis: FuzzApi[];
  missingApis: string[];
  encodeRetries: number;
  workDir: string;
  brokerStderr: string;
}

const PROBE_INTERVAL_MS = 2000;
const PROBE_TIMEOUT_MS = 10_000;
const CLIENT_FINISH_TIMEOUT_MS = 60_000;
const PROGRESS_INTERVAL_MS = 5000;

async function createTopics(bootstrap: string): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'fuzz-setup', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics: Array<{ topic: string; numPartitions: number; configs?: Record<string, string> | undefined }> = [
      ...GOLDEN_LAYOUT.map((t) => ({ topic: t.topic, numPartitions: t.partitions, configs: t.configs })),
      { topic: WELL_BEHAVED.kcatTopic, numPartitions: 3 },
      { topic: WELL_BEHAVED.kafkajsTopic, numPartitions: 3 },
      ...Object.entries(FUZZ_TOPICS).map(([topic, numPartitions]) => ({
        topic,
        numPartitions,
        configs: FUZZ_TOPIC_CONFIGS[topic],
      })),
    ];
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map(({ topic, numPartitions, configs }) => ({
        topic,
        numPartitions,
        replicationFactor: 1,
        configEntries: Object.entries(configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** What the broker advertises (ApiVersions v3), and the ids of its topics (Metadata, when v10+ is served). */
async function askBroker(port: number) {
  const client = await RawClient.connect(port);
  try {
    client.request(ApiKey.ApiVersions, 3, 0, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' });
    const [versionsFrame] = await client.waitForFrames(1, 10_000);
    if (!versionsFrame) throw new Error('the broker did not answer ApiVersions');
    const versions = RawClient.decode(ApiKey.ApiVersions, 3, versionsFrame).body;
    const advertised = (versions.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>).map(
      ({ apiKey, minVersion, maxVersion }) => ({ apiKey, minVersion, maxVersion }),
    );
    const metadataVersion = Math.min(12, advertised.find((a) => a.apiKey === ApiKey.Metadata)?.maxVersion ?? 1);
    client.request(ApiKey.Metadata, metadataVersion, 1, { topics: null, allowAutoTopicCreation: false });
    const frames = await client.waitForFrames(2, 10_000);
    if (frames.length < 2) throw new Error('the broker did not answer Metadata');
    const metadata = RawClient.decode(ApiKey.Metadata, metadataVersion, frames[1]!).body;
    const topicIds = new Map<string, Buffer>();
    if (metadataVersion >= 10)
      for (const t of metadata.topics as Array<{ name: string; topicId: Buffer }>)
        topicIds.set(t.name, Buffer.from(t.topicId));
    return { advertised, topicIds, metadataVersion };
  } finally {
    client.close();
  }
}

function requestMessages(): Map<number, Message> {
  const { apis } = loadSchemas(defaultPaths().schemaDir);
  return new Map(apis.map((api) => [api.apiKey, api.request]));
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const { log } = options;
  const started = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir);
  const checks: Check[] = [];
  const stats = new FuzzStats();
  let broker: FuzzBroker | undefined;
  let rss: RssSampler | undefined;
  const probeFailures: string[] = [];
  let probeCount = 0;
  let maxLatencyMs = 0;
  let wellBehaved: WellBehavedReport[] = [];
  let golden: string[] = [];
  let fuzzMs = 0;
  let apis: FuzzApi[] = [];
  let missingApis: string[] = [];
  let encodeRetries = 0;
  let driver: FuzzDriver | undefined;
  let kcat: KcatPair | undefined;
  try {
    broker = await startFuzzBroker(dataDir, workDir, 'broker', options.overrides);
    log(`broker pid ${broker.child.pid} on ${broker.bootstrap}, data in ${dataDir}`);
    await createTopics(broker.bootstrap);
    await writeGolden(broker.bootstrap);
    const before = await snapshotGolden(broker.port);
    for (const line of describeGolden(before)) log(`golden ${line}`);
    const { advertised, topicIds, metadataVersion } = await askBroker(broker.port);
    const split = fuzzApis(advertised, requestMessages());
    apis = split.apis;
    missingApis = split.missing;
    const unadvertised = split.unadvertised;
    log(
      `broker advertises ${advertised.length} APIs: ` +
        advertised.map((a) => `${a.apiKey}:${a.minVersion}-${a.maxVersion}`).join(' '),
    );

    kcat = new KcatPair(broker.bootstrap);
    const kafkajsPair = new KafkajsPair(broker.bootstrap);
    kcat.start();
    await kafkajsPair.start();

    rss = new RssSampler(broker.child.pid!);
    const fuzzStarted = performance.now();
    const deadline = fuzzStarted + options.durationMs;
    const brokerGone = () => broker!.exited() !== null;
    const stopped = () => brokerGone() || performance.now() > deadline;
    driver = new FuzzDriver({ port: broker.port, stats, stopped });
    const probing = setInterval(() => {
      if (brokerGone()) return;
      void probe(broker!.port, metadataVersion, PROBE_TIMEOUT_MS).then((result) => {
        probeCount++;
        maxLatencyMs = Math.max(maxLatencyMs, result.latencyMs);
        if (!result.ok && !brokerGone())
          probeFailures.push(`${result.problem} after ${result.latencyMs.toFixed(0)} ms`);
      });
    }, PROBE_INTERVAL_MS);
    const progress = setInterval(() => {
      const seconds = (performance.now() - fuzzStarted) / 1000;
      log(
        `${stats.frames} frames in ${seconds.toFixed(0)} s (${(stats.frames / seconds).toFixed(0)}/s), ` +
          `${stats.responses} responses, broker RSS ${mib(rss!.last)}`,
      );
    }, PROGRESS_INTERVAL_MS);
    const sources: FrameSource[] = [];
    const slots = Array.from({ length: options.connections }, (_, slot) => {
      const share =
        options.frames === Infinity
          ? Infinity
          : Math.floor(options.frames / options.connections) + (slot < options.frames % options.connections ? 1 : 0);
      const source = new FrameSource({
        seed: options.seed,
        slot,
        frames: share,
        apis,
        unadvertised,
        topicIds,
        limits: { requestBytesMax: 100 * 1024 * 1024 },
      });
      sources.push(source);
      return driver!.runSlot(slot, source);
    });
    // Connections that never send anything, open for the whole run.
    const lurkers = await Promise.all(
      Array.from({ length: Math.min(8, options.connections) }, () => RawClient.connect(broker!.port)),
    );
    await Promise.all(slots);
    fuzzMs = performance.now() - fuzzStarted;
    clearInterval(probing);
    clearInterval(progress);
    driver.closeIdle();
    for (const lurker of lurkers) lurker.close();
    encodeRetries = sources.reduce((sum, s) => sum + s.encodeRetries, 0);

    const exitedDuring = broker.exited();
    const allSent = options.frames === Infinity || stats.frames === options.frames || performance.now() > deadline;
    checks.push({
      name: 'frames',
      ok: exitedDuring === null && allSent,
      detail:
        exitedDuring === null
          ? `${stats.frames} frames sent in ${(fuzzMs / 1000).toFixed(1)} s`
          : `the broker exited (${exitedDuring}) after ${stats.frames} frames`,
    });
    const uncovered = apis.flatMap((api) => {
      const sent = stats.wellFormedByApi.get(api.apiKey)?.versions ?? new Set<number>();
      const gaps: string[] = [];
      for (let v = api.minVersion; v <= api.maxVersion; v++) if (!sent.has(v)) gaps.push(`${api.codec.apiName} v${v}`);
      return gaps;
    });
    const pairs = apis.reduce((sum, api) => sum + api.maxVersion - api.minVersion + 1, 0);
    checks.push({
      name: 'coverage',
      ok: uncovered.length === 0,
      detail:
        `well-formed frames of ${pairs - uncovered.length} of ${pairs} advertised API versions` +
        (uncovered.length > 0 ? `; never sent: ${uncovered.slice(0, 10).join(', ')}` : '') +
        (missingApis.length > 0 ? `; advertised, no request codec: ${missingApis.join(', ')}` : ''),
    });
    if (exitedDuring === null) {
      log(`fuzzing done after ${(fuzzMs / 1000).toFixed(1)} s; letting the well-behaved clients finish`);
      wellBehaved = await Promise.all([
        kcat.finish(CLIENT_FINISH_TIMEOUT_MS),
        kafkajsPair.finish(CLIENT_FINISH_TIMEOUT_MS),
      ]);
      for (const report of wellBehaved) {
        const ok = report.errors.length === 0 && report.problems.length === 0;
        checks.push({
          name: `well-behaved ${report.name}`,
          ok,
          detail:
            `${report.produced} produced, ${report.consumed} consumed` +
            (ok ? ', in order, no error' : `; ${[...report.errors, ...report.problems].slice(0, 5).join('; ')}`),
        });
      }
      const alive = await probe(broker.port, metadataVersion, PROBE_TIMEOUT_MS);
      checks.push({
        name: 'alive',
        ok: alive.ok,
        detail: alive.ok ? `ApiVersions and Metadata answered in ${alive.latencyMs.toFixed(0)} ms` : alive.problem!,
      });
      log('reading the golden partitions back');
      golden = compareGolden(before, await snapshotGolden(broker.port));
      rss.stop();
      const exit = await broker.stop();
      checks.push({ name: 'shutdown', ok: exit === '0', detail: `SIGTERM → exit ${exit}` });
      log('restarting the broker on the same data dir and reading the golden partitions again');
      try {
        const restarted = await startFuzzBroker(dataDir, workDir, 'broker-restarted', options.overrides);
        try {
          golden.push(...compareGolden(before, await snapshotGolden(restarted.port)).map((p) => `after restart: ${p}`));
        } finally {
          await restarted.stop();
        }
      } catch (error) {
        golden.push(`after restart: ${(error as Error).message}`);
      }
      checks.push({
        name: 'golden',
        ok: golden.length === 0,
        detail:
          golden.length === 0
            ? `${before.size} partitions byte-identical after the run and after a restart`
            : golden.slice(0, 5).join('; '),
      });
    } else {
      rss.stop();
      await kafkajsPair.finish(1000).catch(() => undefined);
      await kcat.finish(1000).catch(() => undefined);
    }
    checks.push({
      name: 'order',
      ok: stats.orderViolations.length === 0,
      detail:
        stats.orderViolations.length === 0
          ? `${stats.responses} responses, in request order`
          : stats.orderViolations.slice(0, 3).join('; '),
    });
    checks.push({
      name: 'probes',
      ok: probeFailures.length === 0,
      detail:
        `${probeCount} probes, slowest ${maxLatencyMs.toFixed(0)} ms` +
        (probeFailures.length > 0 ? `; ${probeFailures.slice(0, 3).join('; ')}` : ''),
    });
    checks.push({
      name: 'rss',
      ok: rss.max <= options.rssMaxBytes,
      detail: `min ${mib(rss.min)}, max ${mib(rss.max)}, final ${mib(rss.last)} (bound ${mib(options.rssMaxBytes)})`,
    });
  } catch (error) {
    checks.push({ name: 'run', ok: false, detail: (error as Error).stack ?? String(error) });
  } finally {
    rss?.stop();
    kcat?.kill();
    if (broker && broker.exited() === null) await broker.stop();
  }
  let logSummary: LogSummary | null = null;
  if (broker) {
    logSummary = summarizeLog(broker.logPath);
    const errors = [...logSummary.messages.entries()].filter(([, m]) => m.level === 'error' || m.level === 'fatal');
    checks.push({
      name: 'log',
      ok: errors.length === 0,
      detail:
        errors.length === 0
          ? `${logSummary.lines} lines, none at error or fatal`
          : errors
              .slice(0, 3)
              .map(([key, m]) => `${m.count}× ${key}: ${m.example.slice(0, 600)}`)
              .join('\n    '),
    });
  }
  const samples = rss?.samples.slice().sort((a, b) => a - b) ?? [0];
  const result: FuzzResult = {
    options,
    checks,
    stats,
    wallMs: performance.now() - started,
    fuzzMs,
    rss: {
      min: rss?.min ?? 0,
      max: rss?.max ?? 0,
      last: rss?.last ?? 0,
      quartiles: [0.25, 0.5, 0.75].map((q) => samples[Math.floor(q * (samples.length - 1))]!),
    },
    probes: { count: probeCount, failures: probeFailures, maxLatencyMs },
    wellBehaved,
    golden,
    log: logSummary,
    apis,
    missingApis,
    encodeRetries,
    workDir,
    brokerStderr: broker?.stderr() ?? '',
  };
  const passed = checks.every((c) => c.ok);
  if (!passed && driver) {
    writeFileSync(
      join(workDir, 'recent-frames.jsonl'),
      driver
        .describeRecent()
        .map((u) => JSON.stringify(u))
        .join('\n') + '\n',
    );
  }
  if (passed && !options.keep) rmSync(workDir, { recursive: true, force: true });
  return result;
}
