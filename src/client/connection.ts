// One TCP connection to one broker: request frames out, response frames in, matched by correlation id.
//
//   request frame   = size INT32, request header (api key, version, correlation id, client id), body
//   response frame  = size INT32, response header (correlation id [, tagged fields]), body
//
// Kafka answers the requests of one connection in the order it received them, so requests are
// pipelined: several are written before the first answer arrives, up to `maxInFlightRequests`; the
// next caller waits for a slot. On connect, ApiVersions tells which versions the broker speaks and
// each request then uses the highest version both sides know.
//
// A request that times out closes the connection: its answer may still come, and the next answers
// would then be read against the wrong expectations (the Java client does the same).
import { connect as netConnect, type Socket } from 'node:net';
import { beginRequestFrame, decodeResponseHeader, finishFrame } from '../protocol/frame.js';
import { apiCodecs, ApiKey } from '../protocol/generated/index.js';
import * as apiVersions from '../protocol/generated/api-versions.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { ConnectionError, KafkaError, RequestTimeoutError, SluiceClientError } from './errors.js';
import { clientVersionRange } from './versions.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  /** Default 10 000. */
  connectTimeoutMs?: number;
  /** Default 30 000; a request may ask for more (a long-poll fetch adds its max wait). */
  requestTimeoutMs?: number;
  /** Default 16. */
  maxInFlightRequests?: number;
  /** The largest response frame accepted (default 128 MiB): a bigger size prefix means a broken stream. */
  maxResponseBytes?: number;
}

export interface RequestOptions {
  /** Use this version instead of the negotiated highest one. */
  version?: number;
  timeoutMs?: number;
  /** False for a Produce with acks=0, which the broker never answers. */
  expectResponse?: boolean;
}

interface Pending {
  apiKey: number;
  version: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_MAX_RESPONSE_BYTES = 128 * 1024 * 1024;

export class Connection {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly pending = new Map<number, Pending>();
  private readonly slotWaiters: Array<() => void> = [];
  private nextCorrelationId = 1;
  private inFlight = 0;
  private closedError: Error | undefined;
  private readonly closeListeners: Array<(error: Error | undefined) => void> = [];
  /** API key → highest version both sides speak; filled by the ApiVersions exchange. */
  private readonly negotiated = new Map<number, number>();
  /** The broker's advertised ranges, for diagnostics. */
  readonly brokerVersions = new Map<number, { min: number; max: number }>();

  private constructor(
    private readonly socket: Socket,
    private readonly reader: FrameReader,
    options: ConnectionOptions,
  ) {
    this.host = options.host;
    this.port = options.port;
    this.clientId = options.clientId ?? 'sluice';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxInFlight = options.maxInFlightRequests ?? 16;
    socket.setNoDelay(true);
    reader.onFrame = (frame) => this.onFrame(frame);
    reader.onBadSize = (size) =>
      this.fail(new ConnectionError(`broker at ${this.address} sent a frame of ${size} bytes`));
    socket.on('error', (error) =>
      this.fail(new ConnectionError(`connection to ${this.address} failed: ${error.message}`, { cause: error })),
    );
    socket.on('close', () => this.fail(new ConnectionError(`connection to ${this.address} closed`)));
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Opens the socket and negotiates API versions. */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const reader = new FrameReader(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    const socket = await new Promise<Socket>((resolve, reject) => {
      // The socket reads into buffers the reader chooses (FrameReader), from its first read on.
      const socket = netConnect({
        host: options.host,
        port: options.port,
        onread: {
          buffer: () => reader.nextReadBuffer(),
          callback: (bytes: number) => {
            reader.onRead(bytes);
            return true; // false would pause the socket
          },
        },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`connecting to ${options.host}:${options.port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new ConnectionError(`cannot connect to ${options.host}:${options.port}: ${error.message}`, { cause: error }),
        );
      });
    });
    const connection = new Connection(socket, reader, options);
    try {
      await connection.negotiateVersions();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  private async negotiateVersions(): Promise<void> {
    // Ask with the newest version we know; a broker that does not know it answers UNSUPPORTED_VERSION
    // in v0 form with its own range for ApiVersions (KIP-511), and we ask again with that.
    let version = clientVersionRange(ApiKey.ApiVersions)!.max;
    let response: apiVersions.ApiVersionsResponse;
    for (;;) {
      response = (await this.send(
        ApiKey.ApiVersions,
        { clientSoftwareName: 'sluice', clientSoftwareVersion: '0.1.0' },
        version,
      )) as apiVersions.ApiVersionsResponse;
      if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION && version > 0) {
        const theirs = response.apiKeys.find((entry) => entry.apiKey === ApiKey.ApiVersions);
        version = theirs ? Math.min(theirs.maxVersion, version - 1) : 0;
        continue;
      }
      break;
    }
    if (response.errorCode !== 0) throw new KafkaError(response.errorCode, null, `ApiVersions from ${this.address}`);
    for (const entry of response.apiKeys) {
      this.brokerVersions.set(entry.apiKey, { min: entry.minVersion, max: entry.maxVersion });
      const ours = clientVersionRange(entry.apiKey);
      if (!ours) continue;
      const highest = Math.min(ours.max, entry.maxVersion);
      if (highest >= Math.max(ours.min, entry.minVersion)) this.negotiated.set(entry.apiKey, highest);
    }
  }

  /** The version a request of `apiKey` will use, or undefined when the two sides share none. */
  versionFor(apiKey: number): number | undefined {
    return this.negotiated.get(apiKey);
  }

  /** Sends a request and resolves with the decoded response body. */
  async request<Response = unknown>(apiKey: number, body: object, options: RequestOptions = {}): Promise<Response> {
    const version = options.version ?? this.negotiated.get(apiKey);
    if (version === undefined) {
      const codec = apiCodecs.get(apiKey);
      throw new KafkaError(
        ErrorCode.UNSUPPORTED_VERSION,
        `the broker at ${this.address} and this client share no version of ${codec?.apiName ?? 'API ' + apiKey}`,
      );
    }
    return (await this.send(apiKey, body, version, options.timeoutMs, options.expectResponse ?? true)) as Response;
  }

  private async send(
    apiKey: number,
    body: object,
    version: number,
    timeoutMs = this.requestTimeoutMs,
    expectResponse = true,
  ): Promise<unknown> {
    while (this.inFlight >= this.maxInFlight && !this.closedError) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    if (this.closedError) throw this.closedError;
    const codec = apiCodecs.get(apiKey)!;
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = this.nextCorrelationId === 0x7fffffff ? 1 : this.nextCorrelationId + 1;
    const frame = beginRequestFrame(apiKey, version, correlationId, this.clientId);
    codec.encodeRequest(version, body, frame.writer);
    const chunks = finishFrame(frame);
    if (!expectResponse) {
      this.write(chunks);
      return undefined;
    }
    this.inFlight++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new RequestTimeoutError(
            `${codec.apiName} v${version} to ${this.address} got no answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.write(chunks);
    });
  }

  private write(chunks: Buffer[]): void {
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.cork();
    for (const chunk of chunks) this.socket.write(chunk);
    this.socket.uncork();
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.pending.get(correlationId);
    if (!pending) {
      this.fail(new ConnectionError(`broker at ${this.address} answered unknown correlation id ${correlationId}`));
      return;
    }
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    this.releaseSlot();
    try {
      const { bodyOffset } = decodeResponseHeader(pending.apiKey, pending.version, frame);
      pending.resolve(apiCodecs.get(pending.apiKey)!.decodeResponse(pending.version, frame, bodyOffset));
    } catch (error) {
      // An ApiVersions error answer is always v0 (KIP-511), whatever version we asked for.
      if (pending.apiKey === ApiKey.ApiVersions && pending.version > 0) {
        try {
          const { bodyOffset } = decodeResponseHeader(ApiKey.ApiVersions, 0, frame);
          pending.resolve(apiVersions.decodeResponse(0, frame, bodyOffset));
          return;
        } catch {
          // fall through to the original error
        }
      }
      pending.reject(error as Error);
    }
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }

  /** Runs `listener` once when the connection closes, for whatever reason. */
  onClose(listener: (error: Error | undefined) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    this.socket.destroy();
    this.reader.stop();
    for (const [, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    this.inFlight = 0;
    for (const waiter of this.slotWaiters.splice(0)) waiter();
    for (const listener of this.closeListeners.splice(0))
      listener(error instanceof SluiceClientError ? error : undefined);
  }

  /** Closes the socket; requests still in flight fail with ConnectionError. */
  close(): void {
    this.fail(new ConnectionError(`connection to ${this.address} was closed by the client`));
  }
}

/** Bytes read at a time while no frame's size is known: small answers arrive whole in one read. */
const SCRATCH_BYTES = 64 * 1024;
const SIZE_PREFIX_BYTES = 4;

/**
 * Cuts the socket's bytes into response frames. The socket reads (`onread`) into buffers chosen here:
 * into `scratch` while no frame's size is known, then straight into the frame's own buffer, so a
 * large Fetch response is never copied out of 64 KiB socket chunks (that copy, and the chunks, were a
 * tenth of the consumer's time). A frame found whole in `scratch` is copied out, since scratch is
 * read into again and a decoded response keeps slices of its frame.
 */
export class FrameReader {
  onFrame: (frame: Buffer) => void = () => undefined;
  onBadSize: (size: number) => void = () => undefined;
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  /** scratch[0..scratchBytes) was read and not yet handed out. */
  private scratchBytes = 0;
  /** The frame being read (size prefix excluded) and how much of it arrived. */
  private frame: Buffer | undefined;
  private frameFilled = 0;
  private stopped = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Where the socket's next read goes. */
  nextReadBuffer(): Buffer {
    if (this.frame !== undefined) return this.frame.subarray(this.frameFilled);
    return this.scratch.subarray(this.scratchBytes);
  }

  /** `bytes` arrived in the buffer nextReadBuffer gave. */
  onRead(bytes: number): void {
    if (this.stopped || bytes <= 0) return;
    if (this.frame !== undefined) {
      this.frameFilled += bytes;
      if (this.frameFilled < this.frame.length) return;
      const frame = this.frame;
      this.frame = undefined;
      this.onFrame(frame);
      return;
    }
    this.scratchBytes += bytes;
    let at = 0;
    while (!this.stopped && this.scratchBytes - at >= SIZE_PREFIX_BYTES) {
      const size = this.scratch.readInt32BE(at);
      if (size < 4 || size > this.maxFrameBytes) {
        this.stop();
        this.onBadSize(size);
        return;
      }
      const available = this.scratchBytes - at - SIZE_PREFIX_BYTES;
      // Allocated from the size prefix alone, before the bytes arrive: maxFrameBytes (the
      // connection's maxResponseBytes) bounds what one answer can make the client hold.
      const frame = Buffer.allocUnsafe(size);
      const copied = this.scratch.copy(
        frame,
        0,
        at + SIZE_PREFIX_BYTES,
        at + SIZE_PREFIX_BYTES + Math.min(size, available),
      );
      at += SIZE_PREFIX_BYTES + copied;
      if (copied < size) {
        // The rest of this frame is read straight into it; scratch is empty (this frame's bytes were its last).
        this.frame = frame;
        this.frameFilled = copied;
        this.scratchBytes = 0;
        return;
      }
      this.onFrame(frame);
    }
    // Fewer than four bytes (part of the next size prefix) are left: keep them at the start.
    this.scratch.copyWithin(0, at, this.scratchBytes);
    this.scratchBytes -= at;
  }

  /** Ignores everything read from now on. */
  stop(): void {
    this.stopped = true;
    this.frame = undefined;
  }
}
