// The listener of scripts/capture-fixtures.ts: a loopback server on 127.0.0.1 (random port) that
// frames requests, saves the first request frame (size prefix included) of each client/API/version
// of the current scenario as test/fixtures/captures/<client>-<api>-v<version>[-<label>].bin, and
// answers with PretendResponses, in request order per connection.
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { beginResponseFrame, decodeRequestHeader, finishFrame } from '../../src/protocol/frame.js';
import { apiCodecs, ApiKey } from '../../src/protocol/generated/index.js';
import { capturesDir, fixtureName, HOST } from './names.js';
import { advertisedApiKeys, PretendResponses } from './pretend-responses.js';

const UNSUPPORTED_VERSION = 35;

/** Whose requests are saved now, and under what names. */
export interface CaptureTarget {
  /** Names the fixtures; also which client id the requests must carry to be saved. */
  client: string;
  clientId: string;
  /** Label added to the fixture names of these API keys (e.g. the compression codec of Produce). */
  labels?: Partial<Record<number, string>>;
}

export class CaptureBroker {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly responses = new PretendResponses(() => this.port);
  port = 0;
  scenario: CaptureTarget | undefined;
  /** API keys captured during the current scenario. */
  seen = new Set<number>();
  readonly saved: string[] = [];
  onCapture: () => void = () => undefined;

  async start(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, HOST, resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('listener has no port');
    this.port = address.port;
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    // Responses go out in request order: each request waits for the previous one's answer.
    let queue = Promise.resolve();
    socket.on('data', (data: Buffer) => {
      buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(0, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(frame.length);
        queue = queue
          .then(() => this.handle(socket, Buffer.from(frame)))
          .catch((error: unknown) => {
            console.error(`  ! ${error instanceof Error ? error.message : String(error)}; closing the connection`);
            socket.destroy();
          });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private capture(frame: Buffer, apiKey: number, apiVersion: number, clientId: string | null): void {
    const scenario = this.scenario;
    if (!scenario || clientId !== scenario.clientId) return;
    const name = fixtureName(scenario.client, apiKey, apiVersion, scenario.labels?.[apiKey]);
    const path = join(capturesDir, name);
    this.seen.add(apiKey);
    if (!existsSync(path)) {
      writeFileSync(path, frame);
      this.saved.push(name);
      console.log(`  + ${name} (${frame.length} bytes)`);
    }
    this.onCapture();
  }

  private async handle(socket: Socket, frame: Buffer): Promise<void> {
    const { header, bodyOffset } = decodeRequestHeader(frame, 4);
    const { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId } = header;
    this.capture(frame, apiKey, version, clientId);

    if (apiKey === ApiKey.ApiVersions && version > 4) {
      // KIP-511: a version newer than ours is answered in the v0 layout with UNSUPPORTED_VERSION.
      this.send(socket, apiKey, 0, correlationId, { errorCode: UNSUPPORTED_VERSION, apiKeys: advertisedApiKeys() });
      return;
    }
    const codec = apiCodecs.get(apiKey);
    if (!codec) throw new Error(`API key ${apiKey} has no codec`);
    const request = codec.decodeRequest(version, frame, bodyOffset);
    const response = await this.responses.respond(apiKey, version, request, clientId ?? '');
    if (response === undefined) return; // acks=0 Produce: no response at all
    this.send(socket, apiKey, version, correlationId, response);
  }

  private send(socket: Socket, apiKey: number, version: number, correlationId: number, body: object): void {
    const frame = beginResponseFrame(apiKey, version, correlationId);
    apiCodecs.get(apiKey)!.encodeResponse(version, body, frame.writer);
    if (socket.destroyed) return;
    for (const chunk of finishFrame(frame)) socket.write(chunk);
  }
}
