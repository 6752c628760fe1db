// One client connection of the Kafka listener.
//
// Reading: bytes are cut into frames (INT32 size, then the message). A frame is dispatched to its
// handler as soon as it is complete, so requests pipeline; reading pauses while `inFlightRequestsMax`
// requests are unanswered or while more than `outputBufferBytesMax` response bytes wait in the
// socket, which pushes backpressure to the client through TCP instead of buffering without bound.
//
// Writing: responses go out in request order (the Java client pairs each response with its oldest
// in-flight request), even when a later request finishes first — e.g. a Metadata request behind a
// long-polling Fetch waits for the Fetch.
//
// Bad input: a size prefix out of bounds, a header that does not parse, an unknown API key or an
// unsupported version closes this connection after logging it with the peer address. Nothing is
// answered, as in Kafka, because no response can be built for a request we cannot read.
import type { Socket } from 'node:net';
import { DecodeError } from '../protocol/errors.js';
import { beginResponseFrame, decodeRequestHeader, finishFrame } from '../protocol/frame.js';
import { apiCodecs, ApiKey } from '../protocol/generated/index.js';
import type { KafkaHandler, RequestContext } from './handlers/handler.js';
import type { ListenerLimits } from './limits.js';
import { REQUEST_BYTES_MIN } from './limits.js';
import type { Logger } from './logger.js';

/** What the connection needs from the listener. */
export interface ConnectionRoutes {
  handlerFor(apiKey: number): KafkaHandler | undefined;
  /** The v0-format body answering an ApiVersions request of a version we do not know. */
  unsupportedApiVersionsBody(): object;
}

/** A frame's size is an INT32. Handlers bound their responses well below this (fetch.max.bytes). */
const RESPONSE_BYTES_MAX = 2 ** 31 - 1;

interface PendingResponse {
  /** null until the handler finishes; an empty array for "no response". */
  chunks: Buffer[] | null;
}

export class KafkaConnection {
  private readonly received: Buffer[] = [];
  private receivedBytes = 0;
  private readonly pending: PendingResponse[] = [];
  private inFlight = 0;
  private closed = false;
  private readingPaused = false;
  private draining = false;
  private readonly peer: string;
  private readonly closedListeners: Array<() => void> = [];
  /** Aborted on close: parked requests of this connection stop waiting. */
  private readonly aborter = new AbortController();

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly routes: ConnectionRoutes,
    private readonly limits: ListenerLimits,
    private readonly logger: Logger,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('drain', () => this.updateReading());
    socket.on('timeout', () => {
      if (this.inFlight === 0) {
        this.logger.info({ peer: this.peer, connection: id }, 'closing idle connection');
        this.close();
      }
    });
    socket.on('error', (error) =>
      this.logger.debug({ peer: this.peer, connection: id, error: error.message }, 'socket error'),
    );
    socket.on('close', () => {
      this.closed = true;
      this.aborter.abort();
      for (const listener of this.closedListeners) listener();
    });
  }

  onClosed(listener: () => void): void {
    this.closedListeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.aborter.abort();
    this.socket.destroy();
  }

  /** Stops reading new requests; answers what is in flight, then closes (graceful shutdown). */
  async drainAndClose(): Promise<void> {
    this.draining = true;
    this.readingPaused = true;
    this.socket.pause();
    while (!this.closed && this.pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!this.closed) this.socket.end();
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.received.push(data);
    this.receivedBytes += data.length;
    this.processFrames();
  }

  private canDispatch(): boolean {
    return (
      !this.closed &&
      !this.draining &&
      this.inFlight < this.limits.inFlightRequestsMax &&
      this.socket.writableLength <= this.limits.outputBufferBytesMax
    );
  }

  private processFrames(): void {
    while (this.receivedBytes >= 4 && this.canDispatch()) {
      const size = this.peekSize();
      if (size < REQUEST_BYTES_MIN || size > this.limits.requestBytesMax) {
        this.reject(`request size ${size} outside [${REQUEST_BYTES_MIN}, ${this.limits.requestBytesMax}]`);
        return;
      }
      if (this.receivedBytes < 4 + size) break;
      const frame = this.take(4 + size);
      this.dispatch(frame);
    }
    this.updateReading();
  }

  private peekSize(): number {
    const first = this.received[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.received, Math.min(this.receivedBytes, 64));
    return head.readInt32BE(0);
  }

  /** Removes `bytes` from the front of the received data; copies only when a frame spans chunks. */
  private take(bytes: number): Buffer {
    const first = this.received[0]!;
    let frame: Buffer;
    if (first.length >= bytes) {
      frame = first.subarray(0, bytes);
      if (first.length === bytes) this.received.shift();
      else this.received[0] = first.subarray(bytes);
    } else {
      frame = Buffer.allocUnsafe(bytes);
      let filled = 0;
      while (filled < bytes) {
        const chunk = this.received[0]!;
        const part = Math.min(chunk.length, bytes - filled);
        chunk.copy(frame, filled, 0, part);
        filled += part;
        if (part === chunk.length) this.received.shift();
        else this.received[0] = chunk.subarray(part);
      }
    }
    this.receivedBytes -= bytes;
    return frame;
  }

  private reject(reason: string, details: Record<string, unknown> = {}): void {
    this.logger.warn({ peer: this.peer, connection: this.id, ...details }, `closing connection: ${reason}`);
    this.close();
  }

  private dispatch(frame: Buffer): void {
    let decoded;
    try {
      decoded = decodeRequestHeader(frame, 4);
    } catch (error) {
      this.reject(error instanceof DecodeError ? error.message : String(error));
      return;
    }
    const { header, bodyOffset } = decoded;
    const context: RequestContext = {
      apiKey: header.requestApiKey,
      apiVersion: header.requestApiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      peer: this.peer,
      connectionId: this.id,
      signal: this.aborter.signal,
    };
    const handler = this.routes.handlerFor(context.apiKey);
    if (!handler) {
      this.reject(`unsupported API key ${context.apiKey}`, {
        apiKey: context.apiKey,
        apiVersion: context.apiVersion,
        clientId: context.clientId,
      });
      return;
    }
    const { min, max } = handler.versions;
    if (context.apiVersion < min || context.apiVersion > max) {
      if (context.apiKey === ApiKey.ApiVersions && context.apiVersion > max) {
        // KIP-511: answer a newer ApiVersions in the v0 format with UNSUPPORTED_VERSION and our table.
        this.respondNow(context, 0, this.routes.unsupportedApiVersionsBody());
        return;
      }
      this.reject(`unsupported version ${context.apiVersion} of ${handler.name} (serves ${min}-${max})`, {
        apiKey: context.apiKey,
        apiVersion: context.apiVersion,
        clientId: context.clientId,
      });
      return;
    }
    const codec = apiCodecs.get(context.apiKey)!;
    let request;
    try {
      // Lenient like Kafka: bytes after the request are ignored (platformatic 1.35 sends DescribeConfigs
      // v2 with v3's include_documentation byte).
      request = codec.decodeRequest(context.apiVersion, frame, bodyOffset, frame.length, { allowTrailingBytes: true });
    } catch (error) {
      this.reject(error instanceof DecodeError ? error.message : String(error), {
        apiKey: context.apiKey,
        apiVersion: context.apiVersion,
        clientId: context.clientId,
      });
      return;
    }
    const slot: PendingResponse = { chunks: null };
    this.pending.push(slot);
    this.inFlight++;
    let result;
    try {
      result = handler.handle(request, context);
    } catch (error) {
      this.failHandler(handler, context, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.complete(slot, context, response),
        (error: unknown) => this.failHandler(handler, context, error),
      );
    } else {
      this.complete(slot, context, result);
    }
  }

  private failHandler(handler: KafkaHandler, context: RequestContext, error: unknown): void {
    // Our bug, not the client's: log it loudly and drop the connection; the client retries elsewhere.
    this.logger.error(
      {
        peer: this.peer,
        connection: this.id,
        api: handler.name,
        apiVersion: context.apiVersion,
        error: error instanceof Error ? error.stack : String(error),
      },
      'request handler failed',
    );
    this.close();
  }

  private respondNow(context: RequestContext, bodyVersion: number, body: object): void {
    const slot: PendingResponse = { chunks: null };
    this.pending.push(slot);
    this.inFlight++;
    const frame = beginResponseFrame(context.apiKey, bodyVersion, context.correlationId);
    apiCodecs.get(context.apiKey)!.encodeResponse(bodyVersion, body, frame.writer);
    slot.chunks = finishFrame(frame);
    this.flush();
  }

  private complete(slot: PendingResponse, context: RequestContext, response: unknown): void {
    if (this.closed) return;
    if (response === null) {
      slot.chunks = [];
    } else {
      try {
        const frame = beginResponseFrame(context.apiKey, context.apiVersion, context.correlationId);
        apiCodecs.get(context.apiKey)!.encodeResponse(context.apiVersion, response, frame.writer);
        if (frame.writer.length - frame.start > RESPONSE_BYTES_MAX)
          throw new RangeError(`response of ${frame.writer.length} bytes exceeds a frame`);
        slot.chunks = finishFrame(frame);
      } catch (error) {
        this.failHandler(this.routes.handlerFor(context.apiKey)!, context, error);
        return;
      }
    }
    this.flush();
  }

  /** Writes every finished response at the head of the queue, in request order. */
  private flush(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.pending.length > 0 && this.pending[0]!.chunks !== null) {
      const { chunks } = this.pending.shift()!;
      this.inFlight--;
      if (chunks!.length > 0 && !wrote) {
        this.socket.cork();
        wrote = true;
      }
      for (const chunk of chunks!) this.socket.write(chunk);
    }
    if (wrote) this.socket.uncork();
    this.processFrames();
  }

  private updateReading(): void {
    if (this.closed || this.draining) return;
    const shouldPause =
      this.inFlight >= this.limits.inFlightRequestsMax || this.socket.writableLength > this.limits.outputBufferBytesMax;
    if (shouldPause && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
      // Frames that arrived before the pause are still buffered here.
      if (this.receivedBytes >= 4) queueMicrotask(() => this.processFrames());
    }
  }
}
