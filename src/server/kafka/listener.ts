// The Kafka TCP listener: accepts connections (up to `connectionsMax`), hands each to a
// KafkaConnection with the request router and the listener's request memory, and closes them all on
// shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import type { KafkaHandler } from '../handlers/handler.js';
import { defaultListenerLimits, type ListenerLimits } from '../limits.js';
import { silentLogger, type Logger } from '../logger.js';
import { KafkaConnection } from './connection.js';
import { RequestMemory } from './request-memory.js';
import { RequestRouter } from './router.js';

export interface KafkaListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handlers: readonly KafkaHandler[];
  limits?: Partial<ListenerLimits>;
  logger?: Logger;
}

export class KafkaListener {
  private readonly server: Server;
  private readonly router: RequestRouter;
  private readonly memory: RequestMemory;
  private readonly connections = new Set<KafkaConnection>();
  private readonly limits: ListenerLimits;
  private readonly logger: Logger;
  private nextConnectionId = 1;
  private boundPort = 0;

  constructor(private readonly options: KafkaListenerOptions) {
    this.limits = { ...defaultListenerLimits, ...options.limits };
    this.logger = options.logger ?? silentLogger;
    this.router = new RequestRouter(options.handlers);
    this.memory = new RequestMemory(this.limits.queuedRequestBytesMax);
    this.server = createServer((socket) => this.accept(socket));
    this.server.on('error', (error) => this.logger.error({ error: error.message }, 'listener error'));
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Request bytes held in memory right now (frames being read and requests not yet answered). */
  get requestBytesReserved(): number {
    return this.memory.reserved;
  }

  /** Of those, the bytes of frames announced by their size prefix and still arriving. */
  get requestBytesAnnounced(): number {
    return this.memory.announced;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : this.options.port;
    this.logger.info({ host: this.options.host, port: this.boundPort }, 'kafka listener started');
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.limits.connectionsMax) {
      this.logger.warn(
        { peer: `${socket.remoteAddress}:${socket.remotePort}`, limit: this.limits.connectionsMax },
        'closing connection: max.connections reached',
      );
      socket.destroy();
      return;
    }
    const id = this.nextConnectionId++;
    const connection = new KafkaConnection(socket, id, this.router, this.memory, this.limits, this.logger);
    this.connections.add(connection);
    connection.onClosed(() => this.connections.delete(connection));
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection.
   *  The grace timer holds the process open: a shutdown must finish even when nothing else is pending
   *  (a request parked on an unref'd timer, a connection no longer read while it drains). */
  async close(graceMs = 5000): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const drained = Promise.all([...this.connections].map((c) => c.drainAndClose()));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (grace = setTimeout(resolve, graceMs)))]);
    clearTimeout(grace);
    for (const connection of this.connections) connection.close();
    await stopped;
  }
}
