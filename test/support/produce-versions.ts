// A second listener in front of a test broker that notes the Produce version of every request, by
// client id, so a test can check which version a real client picks from the advertised range.
// Metadata then names this listener, so clients bootstrapped on it produce through it.
import { ApiKey } from '../../src/protocol/generated/index.js';
import { kafkaHandlers } from '../../src/server/handlers/index.js';
import type { RequestContext } from '../../src/server/handlers/handler.js';
import { KafkaListener } from '../../src/server/kafka/listener.js';
import { listenerLimitsFrom } from '../../src/server/server-config.js';
import type { TestBroker } from './test-broker.js';

export interface ProduceVersionRecorder {
  bootstrap: string;
  /** client id → the Produce versions it sent, in the order first seen. */
  versions: Map<string, Set<number>>;
  close(): Promise<void>;
}

export async function recordProduceVersions(server: TestBroker): Promise<ProduceVersionRecorder> {
  const versions = new Map<string, Set<number>>();
  const handlers = kafkaHandlers(server.broker).map((handler) =>
    handler.apiKey !== ApiKey.Produce
      ? handler
      : {
          ...handler,
          handle(request: unknown, context: RequestContext) {
            const client = context.clientId ?? '';
            versions.set(client, (versions.get(client) ?? new Set<number>()).add(context.apiVersion));
            return handler.handle(request, context);
          },
        },
  );
  const listener = new KafkaListener({
    host: '127.0.0.1',
    port: 0,
    handlers,
    limits: listenerLimitsFrom({}),
    logger: server.logger,
  });
  await listener.listen();
  server.broker.config.advertisedPort = listener.port;
  return { bootstrap: `127.0.0.1:${listener.port}`, versions, close: () => listener.close(200) };
}
