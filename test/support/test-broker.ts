// An in-process broker on a random loopback port with a temp data dir, for tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { brokerConfigFrom } from '../../src/broker/config.js';
import { MemoryLogger } from '../../src/broker/logger.js';
import { kafkaHandlers } from '../../src/server/handlers/index.js';
import { KafkaListener } from '../../src/server/kafka/listener.js';
import { listenerLimitsFrom } from '../../src/server/server-config.js';

export interface TestBroker {
  broker: Broker;
  listener: KafkaListener;
  bootstrap: string;
  port: number;
  dataDir: string;
  logger: MemoryLogger;
  /** Stops the broker; keeps the data dir unless `remove`. */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  close(): Promise<void>;
}

export async function startTestBroker(
  options: { dataDir?: string; properties?: Record<string, string>; port?: number } = {},
): Promise<TestBroker> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const logger = new MemoryLogger();
  const broker = await Broker.open(
    brokerConfigFrom({ 'log.dirs': dataDir, ...options.properties }, { host: '127.0.0.1', port: options.port ?? 0 }),
    { logger },
  );
  // Listener limits (socket.request.max.bytes, max.connections, connections.max.idle.ms, ...) come from
  // the same properties, as in startBroker.
  const listener = new KafkaListener({
    host: '127.0.0.1',
    port: options.port ?? 0,
    handlers: kafkaHandlers(broker),
    limits: listenerLimitsFrom(options.properties ?? {}),
    logger,
  });
  await listener.listen();
  broker.config.advertisedPort = listener.port;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await listener.close(200);
    await broker.close();
  };
  return {
    broker,
    listener,
    bootstrap: `127.0.0.1:${listener.port}`,
    port: listener.port,
    dataDir,
    logger,
    stop,
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
