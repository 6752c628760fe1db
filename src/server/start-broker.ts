// One running broker: the Broker (data directory, topics, partition logs) behind a KafkaListener with
// the handler table. `sluice start` uses it, and so do other projects' tests:
//
//   import { startBroker } from 'sluice';
//   const sluice = await startBroker();            // random free port on 127.0.0.1, temp data dir
//   const kafka = new Kafka({ brokers: [sluice.bootstrapServers] });
//   ...
//   await sluice.close();                          // stops, flushes, removes the temp dir
//
// Order matters: the broker opens first, so a locked data directory is reported before any port is
// taken; the listener binds next; only then is the advertised port known when port 0 was asked for.
// No client can ask for Metadata before the listener is bound, and the handlers read the advertised
// address per request, so filling it in after `listen()` is never observed half-done.
import { tmpdir } from 'node:os';
import { Broker } from '../broker/broker.js';
import { brokerConfigFrom, ConfigError } from '../broker/config.js';
import { makeTemporaryDataDir, removeDataDir as removeDirectoryTree } from '../broker/data-dir.js';
import { checkSizeLimits, sizeLimitsFor } from '../broker/size-limits.js';
import { ClusterNode, clusterSettingsFrom } from '../cluster/cluster-node.js';
import { systemClock } from '../runtime/clock.js';
import { kafkaHandlers } from './handlers/index.js';
import { KafkaListener } from './kafka/listener.js';
import { silentLogger, type Logger } from './logger.js';
import { defaultAdvertisedHost, formatHostPort, serverConfigFrom } from './server-config.js';

export { ConfigError } from '../broker/config.js';
export { DataDirError } from '../broker/data-dir.js';
export type { Broker } from '../broker/broker.js';
export type { Logger } from './logger.js';

export interface StartBrokerOptions {
  /** Address to bind. Default: the `listeners` property's host, else 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default: the `listeners` property's port, else 0. */
  port?: number;
  /** Data directory. Default: the `log.dirs` property, else a new temporary directory that close() removes. */
  dataDir?: string;
  /** Kafka-named settings (`num.partitions`, `log.retention.ms`, `log.flush.policy`, ...), as strings. */
  properties?: Record<string, string>;
  /** pino-shaped logger; silent by default. */
  logger?: Logger;
  /** How long close() lets in-flight requests finish before closing connections. Default 5000 ms. */
  closeGraceMs?: number;
}

export interface StartedBroker {
  /** The bound address. */
  host: string;
  port: number;
  /** What Metadata tells clients ("host:port"); pass it to a client's bootstrap list. */
  bootstrapServers: string;
  dataDir: string;
  broker: Broker;
  /** Its membership of a cluster, or null for one node. */
  cluster: ClusterNode | null;
  /** Stops accepting, lets in-flight requests finish, flushes and checkpoints the logs, releases the
   *  data directory and removes it if startBroker created it. Safe to call more than once. */
  close(): Promise<void>;
}

/** The listener could not bind (address in use, no permission, unknown host). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<StartedBroker> {
  const logger = options.logger ?? silentLogger;
  const properties: Record<string, string> = { ...options.properties };
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new ConfigError(`port must be an integer in [0, 65535], got ${options.port}`);
  }
  if (options.dataDir !== undefined) properties['log.dirs'] = options.dataDir;
  const server = serverConfigFrom(properties);
  const host = options.host ?? server.listen?.host ?? '127.0.0.1';
  const port = options.port ?? server.listen?.port ?? 0;
  const advertised = server.advertised ?? { host: defaultAdvertisedHost(host), port };
  // Checks every broker setting before anything touches the disk; the real config follows below.
  brokerConfigFrom(properties, advertised);
  // The size limits of the layers must agree (broker/size-limits.ts): a refusal is the one line
  // `sluice start` prints; a limit that can never be reached is worth a warning.
  const sizes = checkSizeLimits(sizeLimitsFor(properties));
  if (sizes.refused.length > 0) throw new ConfigError(sizes.refused[0]!);
  for (const warning of sizes.warnings) logger.warn({ rule: warning.rule }, warning.message);

  const givenDataDir = properties['log.dirs'] ?? properties['log.dir'];
  const dataDir = givenDataDir ?? (await makeTemporaryDataDir(tmpdir()));
  const removeDataDir = givenDataDir === undefined ? () => removeDirectoryTree(dataDir) : async () => {};
  properties['log.dirs'] = dataDir;

  // In a cluster, etcd comes first: the broker opens with the cluster's view of where partitions are
  // led, and cannot start (one line, exit 1) if etcd cannot be reached.
  const clusterSettings = clusterSettingsFrom(properties);
  let cluster: ClusterNode | null = null;
  if (clusterSettings !== null) {
    try {
      cluster = await ClusterNode.connect(clusterSettings, Number(properties['node.id'] ?? 0), logger, systemClock);
    } catch (error) {
      await removeDataDir();
      throw new ConfigError(`cannot reach etcd at ${clusterSettings.endpoints.join(',')}: ${(error as Error).message}`);
    }
  }

  let broker: Broker;
  try {
    broker = await Broker.open(
      brokerConfigFrom(properties, advertised),
      cluster === null
        ? { logger }
        : {
            logger,
            metadata: () => cluster.metadata(),
            topicRequests: cluster.topicRequests,
            // Producer ids unique across the cluster: blocks from a counter in etcd (Kafka: KIP-730).
            reserveProducerIds: (size) => cluster.session.reserveFromCounter('producer-ids', size),
            // Markers for partitions other brokers lead go to them (WriteTxnMarkers).
            markers: (local) => cluster.markerWriter(local),
          },
    );
  } catch (error) {
    await cluster?.close();
    await removeDataDir();
    throw error;
  }

  // Until listen() resolves, an error line from the listener is the bind failure that listen() also
  // rejects with; it is reported once, as the ListenError below.
  let bound = false;
  const listenerLogger: Logger = {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => {
      if (bound) logger.error(fields, message);
    },
  };
  const listener = new KafkaListener({
    host,
    port,
    handlers: kafkaHandlers(broker, cluster),
    limits: server.limits,
    logger: listenerLogger,
  });
  try {
    await listener.listen();
    bound = true;
  } catch (error) {
    await cluster?.close();
    await broker.close();
    await removeDataDir();
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the address is in use (is another broker running?)'
        : code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
    throw new ListenError(`cannot listen on ${formatHostPort({ host, port })}: ${why}`);
  }
  if (server.advertised === null && broker.config.advertisedPort === 0) broker.config.advertisedPort = listener.port;
  if (cluster !== null) {
    try {
      await cluster.join(broker);
    } catch (error) {
      await listener.close(0);
      await cluster.close();
      await broker.close();
      await removeDataDir();
      throw new ConfigError(`cannot join the cluster: ${(error as Error).message}`);
    }
  }

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        // A controlled shutdown first: leaderships move to other in-sync replicas while this broker
        // still answers, so clients are sent to the new leaders instead of timing out.
        await cluster?.shutdown();
        await listener.close(options.closeGraceMs ?? 5000);
      } finally {
        try {
          await broker.close();
        } finally {
          await removeDataDir();
        }
      }
    })();
    return closing;
  };

  return {
    host,
    port: listener.port,
    bootstrapServers: formatHostPort({ host: broker.config.advertisedHost, port: broker.config.advertisedPort }),
    dataDir,
    broker,
    cluster,
    close,
  };
}
