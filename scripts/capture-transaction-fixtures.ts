// Captures the transaction requests real clients send (InitProducerId with a transactional id,
// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) into test/fixtures/captures/, next to
// the files of scripts/capture-fixtures.ts and under the same naming and client ids, so
// test/protocol/captures.test.ts checks them the same way (decode, contents, byte-exact re-encode).
//
// Unlike capture-fixtures.ts, which plays a pretend broker, this one runs a real Sluice broker (a
// transaction only proceeds when every step is answered properly) behind a recording TCP proxy: the
// broker advertises the proxy's address, so every connection the clients open passes through it.
// The first request of each client/API/version is kept; existing files are not overwritten.
//
//   npx tsx scripts/capture-transaction-fixtures.ts
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRequestHeader } from '../src/protocol/frame.js';
import { apiCodecs, ApiKey } from '../src/protocol/generated/index.js';
import { startBroker } from '../src/server/start-broker.js';
import {
  CAPTURE_GROUP,
  CAPTURE_TOPIC,
  capturesDir,
  fixtureName,
  KAFKAJS_CLIENT_ID,
  PLATFORMATIC_CLIENT_ID,
} from './capture-fixtures.js';

export const CAPTURE_TRANSACTIONAL_ID = 'sluice-capture-txn';
const CAPTURED_KEYS = new Set<number>([
  ApiKey.InitProducerId,
  ApiKey.AddPartitionsToTxn,
  ApiKey.AddOffsetsToTxn,
  ApiKey.TxnOffsetCommit,
  ApiKey.EndTxn,
]);
const HOST = '127.0.0.1';

function clientOf(clientId: string | null): string | null {
  if (clientId === KAFKAJS_CLIENT_ID) return 'kafkajs';
  if (clientId === PLATFORMATIC_CLIENT_ID) return 'platformatic';
  return null;
}

const saved: string[] = [];

function capture(frame: Buffer): void {
  const { header, bodyOffset } = decodeRequestHeader(frame, 4);
  const client = clientOf(header.clientId);
  if (client === null || !CAPTURED_KEYS.has(header.requestApiKey)) return;
  if (header.requestApiKey === ApiKey.InitProducerId) {
    const body = apiCodecs.get(ApiKey.InitProducerId)!.decodeRequest(header.requestApiVersion, frame, bodyOffset) as {
      transactionalId: string | null;
    };
    if (body.transactionalId === null) return; // only the transactional form
  }
  const name = fixtureName(client, header.requestApiKey, header.requestApiVersion);
  const path = join(capturesDir, name);
  if (existsSync(path) || saved.includes(name)) return;
  writeFileSync(path, frame);
  saved.push(name);
  console.log(`  + ${name} (${frame.length} bytes)`);
}

/** Forwards bytes both ways; splits the client's stream into request frames for capture(). */
function proxy(client: Socket, brokerPort: number): void {
  const upstream = connect(brokerPort, HOST);
  let buffered = Buffer.alloc(0);
  client.on('data', (data: Buffer) => {
    upstream.write(data);
    buffered = buffered.length === 0 ? Buffer.from(data) : Buffer.concat([buffered, data]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const frame = buffered.subarray(0, 4 + buffered.readInt32BE(0));
      buffered = buffered.subarray(frame.length);
      capture(Buffer.from(frame));
    }
  });
  upstream.on('data', (data: Buffer) => client.write(data));
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('close', close).on('error', close);
  upstream.on('close', close).on('error', close);
}

async function driveKafkajs(bootstrap: string): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: KAFKAJS_CLIENT_ID, brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    transactionalId: CAPTURE_TRANSACTIONAL_ID,
    maxInFlightRequests: 1,
    idempotent: true,
  });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic: CAPTURE_TOPIC,
    messages: [{ key: 'key-0', value: 'sluice capture transactional message', partition: 0 }],
  });
  await transaction.sendOffsets({
    consumerGroupId: CAPTURE_GROUP,
    topics: [{ topic: CAPTURE_TOPIC, partitions: [{ partition: 0, offset: '1' }] }],
  });
  await transaction.commit();
  await producer.disconnect();
}

async function drivePlatformatic(bootstrap: string): Promise<void> {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const producer = new Producer({
    clientId: PLATFORMATIC_CLIENT_ID,
    bootstrapBrokers: [bootstrap],
    serializers: stringSerializers,
    idempotent: true,
    transactionalId: `${CAPTURE_TRANSACTIONAL_ID}-platformatic`,
  });
  const transaction = await producer.beginTransaction();
  await transaction.send({
    messages: [{ topic: CAPTURE_TOPIC, key: 'key-0', value: 'sluice capture transactional message', partition: 0 }],
  });
  await transaction.commit();
  await producer.close();
}

async function main(): Promise<void> {
  const proxyServer = createServer();
  await new Promise<void>((resolve) => proxyServer.listen(0, HOST, resolve));
  const proxyPort = (proxyServer.address() as { port: number }).port;
  const broker = await startBroker({
    host: HOST,
    port: 0,
    properties: {
      'advertised.listeners': `PLAINTEXT://${HOST}:${proxyPort}`,
      'transaction.state.log.num.partitions': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
  proxyServer.on('connection', (socket) => proxy(socket, broker.port));
  try {
    await broker.broker.createTopic(CAPTURE_TOPIC, 1, {});
    const bootstrap = `${HOST}:${proxyPort}`;
    await driveKafkajs(bootstrap);
    await drivePlatformatic(bootstrap);
  } finally {
    await broker.close();
    proxyServer.close();
  }
  console.log(`saved ${saved.length} fixtures in ${capturesDir}`);
}

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '') === resolve(process.argv[1]).replace(/\.(ts|js)$/, '')
) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
