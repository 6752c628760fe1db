// One client connection of the Kafka listener, driven by a pump that never calls itself.
//
// Everything that can move a connection forward — bytes arriving, a handler finishing, the socket
// draining, request memory becoming free — calls `pump()`. The pump is one loop: write every
// answered response at the head of the queue (in request order), then cut and dispatch the next
// frame, until nothing more can be done. A handler that answers at once (ApiVersions, Metadata)
// completes inside that loop; its completion only fills its slot, and the loop writes it on the next
// turn. So any number of pipelined requests in one write is served with a flat stack (the pump used
// to recurse: flush → process → dispatch → complete → flush, and 1 500 requests in one write ended
// the process). After `FRAMES_PER_TURN_MAX` frames the pump yields to the event loop, so one busy
// connection cannot starve the others.
//
// Bounds (limits.ts): at most `inFlightRequestsMax` requests read and not yet answered; no new
// request is read while more than `outputBufferBytesMax` response bytes wait in the socket; every
// frame's bytes are reserved in the listener's RequestMemory from its size prefix until it is
// answered. When a bound is reached the socket is paused, which pushes back on the client through
// TCP instead of buffering without bound.
//
// Responses go out in request order (the Java client pairs each response with its oldest request),
// even when a later request finishes first — a Metadata request behind a long-polling Fetch waits.
//
// Bad input: a frame that cannot be framed (size prefix out of bounds) or decoded (bad header,
// unknown API key, unsupported version, a body that does not parse) closes the connection after
// logging it with the peer address — no response can be built for a request we cannot read. A
// handler that throws, or returns a response that cannot be encoded, is our bug, not the client's:
// it is logged with the peer, that request is answered UNKNOWN_SERVER_ERROR in its API's own shape,
// and the connection carries on.
import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import { DecodeError } from '../../protocol/errors.js';
import { beginResponseFrame, decodeRequestHeader, finishFrame } from '../../protocol/frame.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { RequestContext } from '../handlers/handler.js';
import type { ListenerLimits } from '../limits.js';
import { REQUEST_BYTES_MIN } from '../limits.js';
import type { Logger } from '../logger.js';
import type { FrameState, RequestMemory } from './request-memory.js';
import type { RequestRouter, Route } from './router.js';

/** A frame's size is an INT32. Handlers bound their responses well below this (fetch.max.bytes). */
const RESPONSE_BYTES_MAX = 2 ** 31 - 1;
/** Frames one pump turn dispatches before it yields to the event loop (other connections, timers).
 *  Small enough that a flood of cheap requests holds the loop for a few milliseconds at most. */
export const FRAMES_PER_TURN_MAX = 256;
/** Kafka's text for UNKNOWN_SERVER_ERROR; the details go to our log, not to the client. */
const UNKNOWN_SERVER_ERROR_MESSAGE = 'The server experienced an unexpected error when processing the request.';
const NO_RESPONSE: Buffer[] = [];

interface PendingResponse {
  /** null until the request is answered; an empty array for "send nothing" (Produce acks=0). */
  chunks: Buffer[] | null;
  /** Request memory held for this request's frame, released when the response is written. */
  reservedBytes: number;
}

export class KafkaConnection {
  private readonly received: Buffer[] = [];
  private receivedBytes = 0;
  /** The size (prefix included) of the frame at the head of `received`, once its memory is reserved. */
  private headFrameBytes = -1;
  /** Whether that frame was reserved before all of it had arrived (RequestMemory's announced share). */
  private headFrameState: FrameState = 'arrived';
  /** Closes the connection if the head frame does not arrive in time (`requestReceiveTimeoutMs`). */
  private receiveTimer: NodeJS.Timeout | null = null;
  /** Set while this connection waits for request memory; calling it withdraws the wait. */
  private withdrawMemoryWait: (() => void) | null = null;
  private readonly pending: PendingResponse[] = [];
  private pumping = false;
  private turnScheduled = false;
  private closed = false;
  private memoryReleased = false;
  private readingPaused = false;
  private draining: (() => void) | null = null;
  private readonly peer: string;
  private readonly closedListeners: Array<() => void> = [];
  /** Aborted on close: parked requests of this connection stop waiting. */
  private readonly aborter = new AbortController();

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly router: RequestRouter,
    private readonly memory: RequestMemory,
    private readonly limits: ListenerLimits,
    private readonly logger: Logger,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    // Every parked request (a long-poll Fetch) listens for the close; at most the in-flight cap of them.
    setMaxListeners(limits.inFlightRequestsMax + 1, this.aborter.signal);
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('drain', () => this.pump());
    socket.on('timeout', () => {
      if (this.pending.length === 0) {
        this.logger.info({ peer: this.peer, connection: id }, 'closing idle connection');
        this.close();
      }
    });
    socket.on('error', (error) =>
      this.logger.debug({ peer: this.peer, connection: id, error: error.message }, 'socket error'),
    );
    socket.on('close', () => this.socketClosed());
  }

  /** Requests read and not yet answered. */
  get inFlight(): number {
    return this.pending.length;
  }

  onClosed(listener: () => void): void {
    this.closedListeners.push(listener);
  }

  private socketClosed(): void {
    this.closed = true;
    this.aborter.abort();
    this.releaseMemory();
    this.draining?.();
    for (const closedListener of this.closedListeners) closedListener();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.aborter.abort();
    this.releaseMemory();
    this.socket.destroy();
  }

  /** Stops reading new requests; answers what is in flight, then ends the connection (graceful shutdown). */
  async drainAndClose(): Promise<void> {
    if (this.closed) return;
    const drained = new Promise<void>((resolve) => (this.draining = resolve));
    this.updateReading();
    if (this.pending.length === 0) this.draining?.();
    await drained;
    if (!this.closed) this.socket.end();
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.received.push(data);
    this.receivedBytes += data.length;
    this.pump();
  }

  // ── the pump ──────────────────────────────────────────────────────────────────────────────

  private pump(): void {
    if (this.pumping || this.closed) return; // a completion inside the loop is written by the loop
    this.pumping = true;
    try {
      let dispatched = 0;
      for (;;) {
        this.writeAnswered();
        if (this.closed || !this.canDispatch()) break;
        if (dispatched === FRAMES_PER_TURN_MAX) {
          this.scheduleTurn();
          break;
        }
        const frame = this.nextFrame();
        if (frame === null) break;
        dispatched++;
        this.dispatch(frame);
      }
      this.writeAnswered();
    } finally {
      this.pumping = false;
    }
    this.updateReading();
  }

  private canDispatch(): boolean {
    return (
      this.draining === null &&
      this.pending.length < this.limits.inFlightRequestsMax &&
      this.socket.writableLength <= this.limits.outputBufferBytesMax
    );
  }

  private scheduleTurn(): void {
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.pump();
    });
  }

  /** Reads while a request could be dispatched; pauses the socket otherwise (TCP backpressure). */
  private updateReading(): void {
    if (this.closed) return;
    const read = this.canDispatch() && !this.turnScheduled && this.withdrawMemoryWait === null;
    if (!read && !this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    } else if (read && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

  /** Writes every answered response at the head of the queue, in request order. */
  private writeAnswered(): void {
    let corked = false;
    while (this.pending.length > 0 && this.pending[0]!.chunks !== null) {
      const { chunks, reservedBytes } = this.pending.shift()!;
      this.memory.release(reservedBytes);
      if (this.closed) continue;
      if (chunks!.length > 0 && !corked) {
        this.socket.cork();
        corked = true;
      }
      for (const chunk of chunks!) this.socket.write(chunk);
    }
    if (corked) this.socket.uncork();
    if (this.draining !== null && this.pending.length === 0) this.draining();
  }

  // ── framing ───────────────────────────────────────────────────────────────────────────────

  /** The next whole frame (size prefix included), or null if it has not arrived, or has no memory yet. */
  private nextFrame(): Buffer | null {
    if (this.headFrameBytes < 0) {
      if (this.receivedBytes < 4 || this.withdrawMemoryWait !== null) return null;
      const size = this.peekSize();
      if (size < REQUEST_BYTES_MIN || size > this.limits.requestBytesMax) {
        this.reject(`request size ${size} outside [${REQUEST_BYTES_MIN}, ${this.limits.requestBytesMax}]`);
        return null;
      }
      const frameBytes = 4 + size;
      const state: FrameState = this.receivedBytes >= frameBytes ? 'arrived' : 'announced';
      if (!this.memory.tryReserve(frameBytes, state)) {
        this.withdrawMemoryWait = this.memory.reserveLater(frameBytes, state, () => {
          this.withdrawMemoryWait = null;
          if (this.closed) {
            this.memory.release(frameBytes, state);
            return;
          }
          this.reserved(frameBytes, state);
          this.pump();
        });
        return null;
      }
      this.reserved(frameBytes, state);
    }
    if (this.receivedBytes < this.headFrameBytes) return null;
    if (this.headFrameState === 'announced') {
      this.memory.arrived(this.headFrameBytes);
      this.headFrameState = 'arrived';
      clearTimeout(this.receiveTimer!);
      this.receiveTimer = null;
    }
    const frame = this.take(this.headFrameBytes);
    this.headFrameBytes = -1;
    return frame;
  }

  /** The head frame's memory is reserved; one still arriving must arrive within the receive timeout. */
  private reserved(frameBytes: number, state: FrameState): void {
    this.headFrameBytes = frameBytes;
    this.headFrameState = state;
    if (state === 'announced') {
      this.receiveTimer = setTimeout(() => {
        this.reject(
          `request of ${frameBytes} bytes not received within ${this.limits.requestReceiveTimeoutMs} ms ` +
            `(${this.receivedBytes} arrived)`,
        );
      }, this.limits.requestReceiveTimeoutMs);
      this.receiveTimer.unref();
    }
  }

  private peekSize(): number {
    const first = this.received[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.received, 4).readInt32BE(0);
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

  // ── requests ──────────────────────────────────────────────────────────────────────────────

  private dispatch(frame: Buffer): void {
    let decoded;
    try {
      decoded = decodeRequestHeader(frame, 4);
    } catch (error) {
      this.memory.release(frame.length);
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
    const details = { apiKey: context.apiKey, apiVersion: context.apiVersion, clientId: context.clientId };
    const route = this.router.route(context.apiKey);
    if (route === undefined) {
      this.memory.release(frame.length);
      this.reject(`unsupported API key ${context.apiKey}`, details);
      return;
    }
    const { min, max } = route.versions;
    if (context.apiVersion < min || context.apiVersion > max) {
      if (context.apiKey === ApiKey.ApiVersions && context.apiVersion > max) {
        // KIP-511: answer a newer ApiVersions in the v0 format with UNSUPPORTED_VERSION and our table.
        this.open(frame.length).chunks = this.encode(route, context, 0, this.router.unsupportedApiVersionsBody());
        return;
      }
      this.memory.release(frame.length);
      this.reject(`unsupported version ${context.apiVersion} of ${route.name} (serves ${min}-${max})`, details);
      return;
    }
    let request: unknown;
    try {
      // Lenient like Kafka: bytes after the request are ignored (platformatic 1.35 sends DescribeConfigs
      // v2 with v3's include_documentation byte).
      request = route.codec.decodeRequest(context.apiVersion, frame, bodyOffset, frame.length, {
        allowTrailingBytes: true,
      });
    } catch (error) {
      this.memory.release(frame.length);
      this.reject(error instanceof DecodeError ? error.message : String(error), details);
      return;
    }
    const slot = this.open(frame.length);
    let result;
    try {
      result = route.handler.handle(request, context);
    } catch (error) {
      this.fail(slot, route, request, context, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.complete(slot, route, request, context, response),
        (error: unknown) => this.fail(slot, route, request, context, error),
      );
    } else {
      this.complete(slot, route, request, context, result);
    }
  }

  /** Queues the response slot of a request whose frame holds `reservedBytes` of request memory. */
  private open(reservedBytes: number): PendingResponse {
    const slot: PendingResponse = { chunks: null, reservedBytes };
    this.pending.push(slot);
    return slot;
  }

  private complete(
    slot: PendingResponse,
    route: Route,
    request: unknown,
    context: RequestContext,
    response: unknown,
  ): void {
    if (this.closed) return;
    if (response === null) {
      slot.chunks = NO_RESPONSE;
    } else {
      try {
        slot.chunks = this.encode(route, context, context.apiVersion, response as object);
      } catch (error) {
        this.fail(slot, route, request, context, error);
        return;
      }
    }
    this.pump();
  }

  /** A handler threw or its response did not encode: answer UNKNOWN_SERVER_ERROR, keep the connection. */
  private fail(slot: PendingResponse, route: Route, request: unknown, context: RequestContext, error: unknown): void {
    if (this.closed) return;
    this.logger.error(
      {
        peer: this.peer,
        connection: this.id,
        api: route.name,
        apiVersion: context.apiVersion,
        correlationId: context.correlationId,
        clientId: context.clientId,
        error: error instanceof Error ? error.stack : String(error),
      },
      'request handler failed; answered UNKNOWN_SERVER_ERROR',
    );
    try {
      const body = route.errorResponse(request, ErrorCode.UNKNOWN_SERVER_ERROR, {
        apiVersion: context.apiVersion,
        message: UNKNOWN_SERVER_ERROR_MESSAGE,
      });
      if (body === null) {
        // Produce with acks=0 expects no answer: closing is how Kafka tells such a client.
        this.close();
        return;
      }
      slot.chunks = this.encode(route, context, context.apiVersion, body);
    } catch (encodeError) {
      this.reject('could not build an error response', {
        api: route.name,
        apiVersion: context.apiVersion,
        error: encodeError instanceof Error ? encodeError.message : String(encodeError),
      });
      return;
    }
    this.pump();
  }

  private encode(route: Route, context: RequestContext, bodyVersion: number, body: object): Buffer[] {
    const frame = beginResponseFrame(context.apiKey, bodyVersion, context.correlationId);
    route.codec.encodeResponse(bodyVersion, body, frame.writer);
    const bytes = frame.writer.length - frame.start;
    if (bytes > RESPONSE_BYTES_MAX) throw new RangeError(`response of ${bytes} bytes exceeds a frame`);
    return finishFrame(frame);
  }

  private reject(reason: string, details: Record<string, unknown> = {}): void {
    this.logger.warn({ peer: this.peer, connection: this.id, ...details }, `closing connection: ${reason}`);
    this.close();
  }

  /** Gives back every byte of request memory this connection holds (once, when it closes). */
  private releaseMemory(): void {
    if (this.memoryReleased) return;
    this.memoryReleased = true;
    this.withdrawMemoryWait?.();
    this.withdrawMemoryWait = null;
    if (this.headFrameBytes > 0) this.memory.release(this.headFrameBytes, this.headFrameState);
    this.headFrameBytes = -1;
    if (this.receiveTimer !== null) clearTimeout(this.receiveTimer);
    this.receiveTimer = null;
    for (const slot of this.pending) this.memory.release(slot.reservedBytes);
    this.pending.length = 0;
  }
}
