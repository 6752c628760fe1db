// A bare Kafka connection for tests: writes request frames built with our codecs and collects
// response frames as they arrive, so a test can check exactly what went over the wire.
import { connect, type Socket } from 'node:net';
import { beginRequestFrame, decodeResponseHeader, finishFrame } from '../../src/protocol/frame.js';
import { apiCodecs } from '../../src/protocol/generated/index.js';

export class RawClient {
  private buffered = Buffer.alloc(0);
  readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (data: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, data]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  request(
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    body: object,
    clientId: string | null = 'raw-client',
  ): void {
    const frame = beginRequestFrame(apiKey, apiVersion, correlationId, clientId);
    apiCodecs.get(apiKey)!.encodeRequest(apiVersion, body, frame.writer);
    for (const chunk of finishFrame(frame)) this.socket.write(chunk);
  }

  /** Waits until `count` response frames have arrived (or the connection closed, or the timeout). */
  async waitForFrames(count: number, timeoutMs = 3000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
      });
    }
    return this.frames.slice(0, count);
  }

  async waitForClose(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
      });
    }
    return this.closed;
  }

  /** Decodes a response frame's header and body for the given API and version. */
  static decode(apiKey: number, apiVersion: number, frame: Buffer): { correlationId: number; body: any } {
    const { header, bodyOffset } = decodeResponseHeader(apiKey, apiVersion, frame);
    return {
      correlationId: header.correlationId,
      body: apiCodecs.get(apiKey)!.decodeResponse(apiVersion, frame, bodyOffset),
    };
  }

  close(): void {
    this.socket.destroy();
  }
}
