// Drivers for the Node.js clients of the capture scenarios (kafkajs, @platformatic/kafka): each runs
// in a child process (`scripts/capture-fixtures.ts --drive <scenario> <port>`) so that the parent can
// kill it cleanly when the requests it waits for have arrived; the consumers run until killed.
import {
  CAPTURE_GROUP,
  CAPTURE_TOPIC,
  compressible,
  CREATED_TOPIC,
  HOST,
  KAFKAJS_CLIENT_ID,
  PLATFORMATIC_CLIENT_ID,
} from './names.js';

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
    // acks: the client's default for send(), 1 (leader)
    const producer = new Producer({ ...common, serializers: stringSerializers, compression: codec });
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

/** Runs the client of scenario `name` against the broker on `port`. */
export async function drive(name: string, port: number): Promise<void> {
  if (name.startsWith('kafkajs-')) await driveKafkajs(name, port);
  else if (name.startsWith('platformatic-')) await drivePlatformatic(name, port);
  else throw new Error(`no driver for ${name}`);
}
