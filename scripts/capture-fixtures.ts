// Captures real Kafka client requests as byte fixtures in test/fixtures/captures/.
//
//   npx tsx scripts/capture-fixtures.ts                   run every scenario (needs kcat on PATH)
//   npx tsx scripts/capture-fixtures.ts kcat-produce-lz4  run only the named scenarios
//
// A loopback listener on 127.0.0.1 (random port) plays a one-node broker just well enough for each
// client to get through its first requests: ApiVersions with the ranges of docs/api-versions.md
// Table B, Metadata naming itself as the only broker and leader, Produce with offsets, empty
// Fetches, FindCoordinator pointing at itself, a one-member group. It saves the first request frame
// (size prefix included) of each client/API/version as
//   test/fixtures/captures/<client>-<api>-v<version>[-<label>].bin
// Every client runs in its own process group with a time limit and is killed at the end of its
// scenario; errors and time-outs after the interesting requests are expected.
//
// The responses are built with our generated codecs, so this script doubles as a smoke test of
// the encoders against three independent client implementations.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beginResponseFrame, decodeRequestHeader, finishFrame } from '../src/protocol/frame.js';
import { apiCodecs, ApiKey } from '../src/protocol/generated/index.js';
import { repositoryRoot } from './generate-protocol.js';

const HOST = '127.0.0.1';
const NODE_ID = 1;
const CLUSTER_ID = 'sluice-capture-cluster';
export const CAPTURE_TOPIC = 'sluice-capture';
export const CREATED_TOPIC = 'sluice-capture-created';
export const CAPTURE_GROUP = 'sluice-capture-group';
export const KAFKAJS_CLIENT_ID = 'sluice-capture-kafkajs';
export const PLATFORMATIC_CLIENT_ID = 'sluice-capture-platformatic';
/** librdkafka's default client.id, which kcat does not change. */
export const KCAT_CLIENT_ID = 'rdkafka';
const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;
const UNSUPPORTED_VERSION = 35;
const FETCH_WAIT_CAP_MS = 250;
const SCENARIO_TIMEOUT_MS = 20_000;
/** After the awaited requests arrived, how long the client may go on before it is killed. */
const SCENARIO_GRACE_MS = 500;

export const capturesDir = join(repositoryRoot, 'test', 'fixtures', 'captures');

/** docs/api-versions.md, Table B: what Sluice advertises in phase 1. */
const ADVERTISED: ReadonlyArray<readonly [apiKey: number, min: number, max: number]> = [
  [0, 0, 7],
  [1, 4, 12],
  [2, 1, 5],
  [3, 0, 9],
  [8, 2, 8],
  [9, 1, 8],
  [10, 0, 4],
  [11, 0, 6],
  [12, 0, 4],
  [13, 0, 4],
  [14, 0, 4],
  [15, 0, 5],
  [16, 0, 4],
  [17, 0, 1],
  [18, 0, 4],
  [19, 2, 7],
  [20, 1, 6],
  [21, 0, 2],
  [22, 0, 4],
  [23, 2, 4],
  [24, 0, 3],
  [25, 0, 3],
  [26, 0, 4],
  [28, 0, 3],
  [32, 1, 2],
  [33, 0, 2],
  [36, 0, 2],
  [37, 0, 3],
  [42, 0, 2],
  [44, 0, 1],
  [60, 0, 1],
];

export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The fixture file name for one request. */
export function fixtureName(client: string, apiKey: number, apiVersion: number, label?: string): string {
  const apiName = apiCodecs.get(apiKey)?.apiName ?? `api${apiKey}`;
  return `${client}-${kebab(apiName)}-v${apiVersion}${label ? `-${label}` : ''}.bin`;
}

// ---------------------------------------------------------------------------------------------
// The pretend broker

interface Scenario {
  name: string;
  /** Names the fixtures; also which client id the requests must carry to be saved. */
  client: string;
  clientId: string;
  /** Label added to the fixture names of these API keys (e.g. the compression codec of Produce). */
  labels?: Partial<Record<number, string>>;
  /** The scenario ends once every one of these API keys has been captured (or the client exits). */
  awaitApiKeys: number[];
  command: string;
  args: string[];
  stdin?: string;
}

class CaptureBroker {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly nextOffset = new Map<string, bigint>();
  private memberCounter = 0;
  port = 0;
  scenario: Scenario | undefined;
  /** API keys captured during the current scenario. */
  seen = new Set<number>();
  readonly saved: string[] = [];
  onCapture: () => void = () => undefined;

  async start(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, HOST, resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('listener has no port');
    this.port = address.port;
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    // Responses go out in request order: each request waits for the previous one's answer.
    let queue = Promise.resolve();
    socket.on('data', (data: Buffer) => {
      buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(0, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(frame.length);
        queue = queue
          .then(() => this.handle(socket, Buffer.from(frame)))
          .catch((error: unknown) => {
            console.error(`  ! ${error instanceof Error ? error.message : String(error)}; closing the connection`);
            socket.destroy();
          });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private capture(frame: Buffer, apiKey: number, apiVersion: number, clientId: string | null): void {
    const scenario = this.scenario;
    if (!scenario || clientId !== scenario.clientId) return;
    const name = fixtureName(scenario.client, apiKey, apiVersion, scenario.labels?.[apiKey]);
    const path = join(capturesDir, name);
    this.seen.add(apiKey);
    if (!existsSync(path)) {
      writeFileSync(path, frame);
      this.saved.push(name);
      console.log(`  + ${name} (${frame.length} bytes)`);
    }
    this.onCapture();
  }

  private async handle(socket: Socket, frame: Buffer): Promise<void> {
    const { header, bodyOffset } = decodeRequestHeader(frame, 4);
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId } = header;
    this.capture(frame, apiKey, version, clientId);

    if (apiKey === ApiKey.ApiVersions && version > 4) {
      // KIP-511: a version newer than ours is answered in the v0 layout with UNSUPPORTED_VERSION.
      this.send(socket, apiKey, 0, correlationId, { errorCode: UNSUPPORTED_VERSION, apiKeys: this.apiKeys() });
      return;
    }
    const codec = apiCodecs.get(apiKey);
    if (!codec) throw new Error(`API key ${apiKey} has no codec`);
    const request = codec.decodeRequest(version, frame, bodyOffset);
    const response = await this.respond(apiKey, version, request, clientId ?? '');
    if (response === undefined) return; // acks=0 Produce: no response at all
    this.send(socket, apiKey, version, correlationId, response);
  }

  private send(socket: Socket, apiKey: number, version: number, correlationId: number, body: object): void {
    const frame = beginResponseFrame(apiKey, version, correlationId);
    apiCodecs.get(apiKey)!.encodeResponse(version, body, frame.writer);
    if (socket.destroyed) return;
    for (const chunk of finishFrame(frame)) socket.write(chunk);
  }

  private apiKeys(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    return ADVERTISED.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion }));
  }

  private partitionMetadata(): object {
    return {
      errorCode: 0,
      partitionIndex: 0,
      leaderId: NODE_ID,
      leaderEpoch: 0,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    };
  }

  // The bodies below are typed loosely (`any`): each API has its own generated types, and this
  // pretend broker only fills in what a client needs to carry on.
  private async respond(apiKey: number, version: number, request: any, clientId: string): Promise<object | undefined> {
    switch (apiKey) {
      case ApiKey.ApiVersions:
        return { errorCode: 0, apiKeys: this.apiKeys(), throttleTimeMs: 0 };
      case ApiKey.Metadata: {
        const names: string[] =
          request.topics === null || request.topics.length === 0
            ? [CAPTURE_TOPIC]
            : request.topics.map((t: { name: string | null }) => t.name ?? CAPTURE_TOPIC);
        return {
          brokers: [{ nodeId: NODE_ID, host: HOST, port: this.port, rack: null }],
          clusterId: CLUSTER_ID,
          controllerId: NODE_ID,
          topics: names.map((name) => ({
            errorCode: 0,
            name,
            isInternal: false,
            partitions: [this.partitionMetadata()],
            topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
          })),
          clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
        };
      }
      case ApiKey.Produce: {
        if (request.acks === 0) return undefined;
        return {
          responses: request.topicData.map(
            (topic: { name: string; partitionData: Array<{ index: number; records: Buffer | null }> }) => ({
              name: topic.name,
              partitionResponses: topic.partitionData.map((partition) => {
                const key = `${topic.name}/${partition.index}`;
                const baseOffset = this.nextOffset.get(key) ?? 0n;
                // RecordBatch v2: recordCount is the int32 at byte 57.
                const records = partition.records;
                const count = records && records.length >= 61 ? BigInt(records.readInt32BE(57)) : 0n;
                this.nextOffset.set(key, baseOffset + count);
                return { index: partition.index, errorCode: 0, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n };
              }),
            }),
          ),
        };
      }
      case ApiKey.Fetch: {
        // An empty partition; wait a little like a long poll so clients do not spin.
        await new Promise((resolve) => setTimeout(resolve, Math.min(request.maxWaitMs, FETCH_WAIT_CAP_MS)));
        return {
          errorCode: 0,
          sessionId: 0,
          responses: request.topics.map(
            (topic: { topic: string; topicId: Buffer; partitions: Array<{ partition: number }> }) => ({
              topic: topic.topic,
              topicId: topic.topicId,
              partitions: topic.partitions.map((p) => ({
                partitionIndex: p.partition,
                errorCode: 0,
                highWatermark: 0n,
                lastStableOffset: 0n,
                logStartOffset: 0n,
                abortedTransactions: [],
                preferredReadReplica: -1,
                records: Buffer.alloc(0),
              })),
            }),
          ),
        };
      }
      case ApiKey.ListOffsets:
        return {
          topics: request.topics.map((topic: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              timestamp: -1n,
              offset: 0n,
              ...(version >= 4 ? { leaderEpoch: 0 } : {}),
            })),
          })),
        };
      case ApiKey.FindCoordinator:
        if (version >= 4) {
          return {
            coordinators: request.coordinatorKeys.map((key: string) => ({
              key,
              nodeId: NODE_ID,
              host: HOST,
              port: this.port,
              errorCode: 0,
            })),
          };
        }
        return { errorCode: 0, nodeId: NODE_ID, host: HOST, port: this.port };
      case ApiKey.JoinGroup: {
        // Assign a member id on the first join instead of the MEMBER_ID_REQUIRED round trip (DESIGN gotcha 9).
        const memberId: string = request.memberId || `${clientId}-${++this.memberCounter}`;
        const protocol = request.protocols[0] as { name: string; metadata: Buffer };
        return {
          errorCode: 0,
          generationId: 1,
          protocolType: request.protocolType,
          protocolName: protocol.name,
          leader: memberId,
          memberId,
          members: [{ memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata }],
        };
      }
      case ApiKey.SyncGroup: {
        const own = (request.assignments as Array<{ memberId: string; assignment: Buffer }>).find(
          (a) => a.memberId === request.memberId,
        );
        return version >= 5
          ? {
              errorCode: 0,
              protocolType: request.protocolType,
              protocolName: request.protocolName,
              assignment: own?.assignment ?? Buffer.alloc(0),
            }
          : { errorCode: 0, assignment: own?.assignment ?? Buffer.alloc(0) };
      }
      case ApiKey.OffsetFetch: {
        const noOffset = (partitionIndex: number) => ({
          partitionIndex,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: 0,
        });
        if (version >= 8) {
          return {
            groups: request.groups.map(
              (group: { groupId: string; topics: Array<{ name: string; partitionIndexes: number[] }> | null }) => ({
                groupId: group.groupId,
                errorCode: 0,
                topics: (group.topics ?? []).map((t) => ({
                  name: t.name,
                  partitions: t.partitionIndexes.map(noOffset),
                })),
              }),
            ),
          };
        }
        return {
          errorCode: 0,
          topics: ((request.topics ?? []) as Array<{ name: string; partitionIndexes: number[] }>).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map(noOffset),
          })),
        };
      }
      case ApiKey.InitProducerId:
        return { errorCode: 0, producerId: 1000n, producerEpoch: 0 };
      case ApiKey.CreateTopics:
        return {
          topics: request.topics.map((t: { name: string; numPartitions: number; replicationFactor: number }) =>
            version >= 5
              ? {
                  name: t.name,
                  errorCode: 0,
                  errorMessage: null,
                  numPartitions: Math.max(t.numPartitions, 1),
                  replicationFactor: Math.max(t.replicationFactor, 1),
                  configs: [],
                }
              : { name: t.name, errorCode: 0, errorMessage: null },
          ),
        };
      default:
        // Heartbeat, OffsetCommit, LeaveGroup, …: every field at its default means "no error".
        return {};
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const thisFile = fileURLToPath(import.meta.url);
const compressible = Array.from(
  { length: 20 },
  (_, i) => `sluice capture message ${i % 4}: the quick brown fox jumps over the lazy dog`,
);

function driver(name: string, port: number): { command: string; args: string[] } {
  return { command: process.execPath, args: [...process.execArgv, thisFile, '--drive', name, String(port)] };
}

function scenarios(port: number): Scenario[] {
  const broker = `${HOST}:${port}`;
  const list: Scenario[] = [];
  const kcat = (name: string, args: string[], awaitApiKeys: number[], extra: Partial<Scenario> = {}): void => {
    list.push({
      name,
      client: 'kcat',
      clientId: KCAT_CLIENT_ID,
      awaitApiKeys,
      command: 'kcat',
      args: ['-b', broker, '-X', 'socket.timeout.ms=3000', ...args],
      ...extra,
    });
  };
  const node = (
    name: string,
    client: string,
    clientId: string,
    awaitApiKeys: number[],
    extra: Partial<Scenario> = {},
  ): void => {
    list.push({ name, client, clientId, awaitApiKeys, ...driver(name, port), ...extra });
  };

  for (const codec of ['none', 'gzip']) {
    node(`kafkajs-produce-${codec}`, 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.Produce], {
      labels: { [ApiKey.Produce]: codec },
    });
  }
  node('kafkajs-create-topics', 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.CreateTopics]);
  node('kafkajs-consume', 'kafkajs', KAFKAJS_CLIENT_ID, [ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Fetch]);

  kcat('kcat-metadata', ['-L'], [ApiKey.Metadata]);
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    kcat(
      `kcat-produce-${codec}`,
      ['-P', '-t', CAPTURE_TOPIC, '-p', '0', '-z', codec, '-X', 'linger.ms=50'],
      [ApiKey.Produce],
      {
        labels: { [ApiKey.Produce]: codec },
        stdin: compressible.join('\n') + '\n',
      },
    );
  }
  kcat(
    'kcat-consume',
    ['-C', '-t', CAPTURE_TOPIC, '-p', '0', '-o', 'beginning', '-e'],
    [ApiKey.ListOffsets, ApiKey.Fetch],
  );
  kcat('kcat-group', ['-G', CAPTURE_GROUP, CAPTURE_TOPIC], [ApiKey.JoinGroup, ApiKey.SyncGroup, ApiKey.Fetch]);

  for (const codec of ['none', 'gzip', 'snappy', 'lz4']) {
    node(`platformatic-produce-${codec}`, 'platformatic', PLATFORMATIC_CLIENT_ID, [ApiKey.Produce], {
      labels: { [ApiKey.Produce]: codec },
    });
  }
  node('platformatic-create-topics', 'platformatic', PLATFORMATIC_CLIENT_ID, [ApiKey.CreateTopics]);
  node('platformatic-consume', 'platformatic', PLATFORMATIC_CLIENT_ID, [
    ApiKey.JoinGroup,
    ApiKey.SyncGroup,
    ApiKey.Fetch,
  ]);
  return list;
}

function runScenario(brokerState: CaptureBroker, scenario: Scenario): Promise<void> {
  return new Promise((resolve) => {
    brokerState.scenario = scenario;
    brokerState.seen = new Set();
    console.log(
      `- ${scenario.name}: ${scenario.command === 'kcat' ? 'kcat ' + scenario.args.join(' ') : 'driver ' + scenario.name}`,
    );
    const child: ChildProcess = spawn(scenario.command, scenario.args, {
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(scenario.stdin ?? '');
    let finished = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (why: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(limit);
      clearTimeout(graceTimer);
      brokerState.onCapture = () => undefined;
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const missing = scenario.awaitApiKeys.filter((key) => !brokerState.seen.has(key));
      if (missing.length > 0) {
        console.log(`  ! ${why}; never saw API keys ${missing.join(', ')}`);
        if (stderr.trim()) console.log('  ' + stderr.trim().split('\n').slice(-5).join('\n  '));
      }
      brokerState.scenario = undefined;
      brokerState.dropConnections();
      setTimeout(resolve, 100);
    };
    const limit = setTimeout(() => finish('timed out'), SCENARIO_TIMEOUT_MS);
    brokerState.onCapture = () => {
      if (graceTimer === undefined && scenario.awaitApiKeys.every((key) => brokerState.seen.has(key))) {
        graceTimer = setTimeout(() => finish('done'), SCENARIO_GRACE_MS);
      }
    };
    child.on('error', (error) => finish(`could not start: ${error.message}`));
    child.on('exit', () => setTimeout(() => finish('client exited'), 200));
  });
}

async function main(only: string[]): Promise<void> {
  mkdirSync(capturesDir, { recursive: true });
  const broker = new CaptureBroker();
  await broker.start();
  console.log(`capture broker on ${HOST}:${broker.port}`);
  const selected = scenarios(broker.port).filter((s) => only.length === 0 || only.includes(s.name));
  if (only.length === 0) {
    // A full run starts from scratch so every file comes from this run.
    for (const name of readdirSync(capturesDir)) if (name.endsWith('.bin')) rmSync(join(capturesDir, name));
  }
  for (const scenario of selected) await runScenario(broker, scenario);
  await broker.stop();
  console.log(`saved ${broker.saved.length} fixtures in ${capturesDir}`);
}

// ---------------------------------------------------------------------------------------------
// Drivers for the Node.js clients (run in a child process so they can be killed cleanly)

async function driveKafkajs(name: string, port: number): Promise<void> {
  const { Kafka, CompressionTypes, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: KAFKAJS_CLIENT_ID,
    brokers: [`${HOST}:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100 },
    connectionTimeout: 3000,
    requestTimeout: 5000,
  });
  if (name.startsWith('kafkajs-produce-')) {
    const codec = name.slice('kafkajs-produce-'.length);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({
      topic: CAPTURE_TOPIC,
      acks: -1,
      compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: compressible.map((value, i) => ({ key: `key-${i % 4}`, value, partition: 0 })),
    });
    await producer.disconnect();
  } else if (name === 'kafkajs-create-topics') {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: CREATED_TOPIC, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: false,
    });
    await admin.disconnect();
  } else if (name === 'kafkajs-consume') {
    const consumer = kafka.consumer({ groupId: CAPTURE_GROUP, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topics: [CAPTURE_TOPIC], fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    await new Promise(() => undefined); // killed by the parent
  }
}

async function drivePlatformatic(name: string, port: number): Promise<void> {
  const { Admin, Consumer, Producer, stringDeserializers, stringSerializers } = await import('@platformatic/kafka');
  const common = {
    clientId: PLATFORMATIC_CLIENT_ID,
    bootstrapBrokers: [`${HOST}:${port}`],
    retries: 1,
    retryDelay: 100,
    timeout: 5000,
  };
  if (name.startsWith('platformatic-produce-')) {
    const codec = name.slice('platformatic-produce-'.length) as 'none' | 'gzip' | 'snappy' | 'lz4';
    const producer = new Producer({ ...common, serializers: stringSerializers, compression: codec }); // acks: the client's default for send(), 1 (leader)
    await producer.send({
      messages: compressible.map((value, i) => ({ topic: CAPTURE_TOPIC, key: `key-${i % 4}`, value, partition: 0 })),
    });
    await producer.close();
  } else if (name === 'platformatic-create-topics') {
    const admin = new Admin(common);
    await admin.createTopics({ topics: [CREATED_TOPIC], partitions: 1, replicas: 1 });
    await admin.close();
  } else if (name === 'platformatic-consume') {
    const consumer = new Consumer({
      ...common,
      groupId: CAPTURE_GROUP,
      deserializers: stringDeserializers,
      maxWaitTime: 200,
    });
    const stream = await consumer.consume({ topics: [CAPTURE_TOPIC], mode: 'earliest' });
    stream.on('data', () => undefined);
    await new Promise(() => undefined); // killed by the parent
  }
}

async function drive(name: string, port: number): Promise<void> {
  if (name.startsWith('kafkajs-')) await driveKafkajs(name, port);
  else if (name.startsWith('platformatic-')) await drivePlatformatic(name, port);
  else throw new Error(`no driver for ${name}`);
}

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '') === resolve(process.argv[1]).replace(/\.(ts|js)$/, '')
) {
  const args = process.argv.slice(2);
  if (args[0] === '--drive') {
    drive(args[1]!, Number(args[2])).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error instanceof Error ? error.stack : String(error));
        process.exit(1);
      },
    );
  } else {
    main(args).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  }
}
