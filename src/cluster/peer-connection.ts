// A broker's own connection to another broker (a follower to its leader): Kafka requests encoded with
// the protocol codecs, answered by correlation id, one TCP connection, no pipelining limit beyond what
// the caller sends. It fails every outstanding request when the socket closes, and is not reused
// after: the caller opens a new one. A response larger than `maxFrameBytes` closes it (a broker that
// sends one is not one of ours).
import { connect, type Socket } from 'node:net';
import { beginRequestFrame, decodeResponseHeader, finishFrame } from '../protocol/frame.js';
import { apiCodecs } from '../protocol/generated/index.js';

export class PeerClosedError extends Error {
  override readonly name = 'PeerClosedError';
}

export class PeerConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly pending = new Map<
    number,
    { apiKey: number; version: number; resolve: (body: any) => void; reject: (e: Error) => void }
  >();
  private closedWith: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
    private readonly maxFrameBytes: number,
  ) {
    socket.on('data', (data: Buffer) => this.received(data));
    socket.on('close', () => this.fail(new PeerClosedError('connection closed')));
    socket.on('error', (error) => this.fail(new PeerClosedError(error.message)));
  }

  static open(
    host: string,
    port: number,
    clientId: string,
    timeoutMs: number,
    maxFrameBytes: number,
  ): Promise<PeerConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerClosedError(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new PeerConnection(socket, clientId, maxFrameBytes));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new PeerClosedError(error.message));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  request<T = any>(apiKey: number, version: number, body: object): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const correlationId = this.nextCorrelationId++;
    const frame = beginRequestFrame(apiKey, version, correlationId, this.clientId);
    apiCodecs.get(apiKey)!.encodeRequest(version, body, frame.writer);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(correlationId, { apiKey, version, resolve, reject });
      this.socket.write(Buffer.concat(finishFrame(frame)));
    });
  }

  private received(data: Buffer): void {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (size < 0 || size > this.maxFrameBytes) {
        this.close(new PeerClosedError(`response frame of ${size} bytes`));
        return;
      }
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const waiter = this.pending.get(correlationId);
      if (waiter === undefined) {
        this.close(new PeerClosedError(`response for unknown correlation id ${correlationId}`));
        return;
      }
      this.pending.delete(correlationId);
      try {
        const { bodyOffset } = decodeResponseHeader(waiter.apiKey, waiter.version, frame);
        waiter.resolve(apiCodecs.get(waiter.apiKey)!.decodeResponse(waiter.version, frame, bodyOffset));
      } catch (error) {
        waiter.reject(error as Error);
        this.close(new PeerClosedError(`undecodable response: ${(error as Error).message}`));
        return;
      }
    }
  }

  private fail(error: Error): void {
    if (this.closedWith === null) this.closedWith = error;
    for (const waiter of this.pending.values()) waiter.reject(this.closedWith);
    this.pending.clear();
  }

  close(error: Error = new PeerClosedError('closed')): void {
    this.fail(error);
    this.socket.destroy();
  }
}
