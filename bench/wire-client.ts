// A minimal Kafka client for the benches, built on our own codecs (src/protocol): one TCP
// connection, requests framed with beginRequestFrame/finishFrame, responses matched to requests by
// correlation id. Requests pipeline (request() does not wait for earlier answers). It is just
// enough to create topics, read high watermarks and drive the fixed-rate latency test; it is not
// the project's client and knows nothing about metadata, retries or leaders.
import { connect, type Socket } from 'node:net';
import { beginRequestFrame, decodeResponseHeader, finishFrame } from '../src/protocol/frame.js';
import { apiCodecs, ApiKey, ErrorCode } from '../src/protocol/generated/index.js';
import type { CreateTopicsResponse } from '../src/protocol/generated/create-topics.js';
import type { ListOffsetsResponse } from '../src/protocol/generated/list-offsets.js';

/** Largest response frame we accept; a bench fetch asks for far less. */
const RESPONSE_BYTES_MAX = 256 * 1024 * 1024;
/** How long one request may take before the bench gives up on it. */
const REQUEST_TIMEOUT_MS = 30_000;

interface Waiting {
  apiKey: number;
  apiVersion: number;
  resolve: (response: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class WireClient {
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private received: Buffer[] = [];
  private receivedBytes = 0;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(host: string, port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one request; resolves with the decoded response body. */
  request<Response>(apiKey: number, apiVersion: number, body: object): Promise<Response> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const correlationId = this.nextCorrelationId++;
    const frame = beginRequestFrame(apiKey, apiVersion, correlationId, 'sluice-bench');
    apiCodecs.get(apiKey)!.encodeRequest(apiVersion, body, frame.writer);
    const chunks = finishFrame(frame);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new Error(`request ${apiKey} v${apiVersion} timed out after ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(correlationId, {
        apiKey,
        apiVersion,
        resolve: resolve as (response: unknown) => void,
        reject,
        timer,
      });
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.received.push(data);
    this.receivedBytes += data.length;
    while (this.receivedBytes >= 4) {
      if (this.received[0]!.length < 4) this.received = [Buffer.concat(this.received)];
      const size = this.received[0]!.readInt32BE(0);
      if (size < 4 || size > RESPONSE_BYTES_MAX) {
        this.fail(new Error(`response size ${size} out of bounds`));
        this.socket.destroy();
        return;
      }
      if (this.receivedBytes < 4 + size) return;
      const all = this.received.length === 1 ? this.received[0]! : Buffer.concat(this.received);
      const frame = all.subarray(0, 4 + size);
      const rest = all.subarray(4 + size);
      this.received = rest.length > 0 ? [rest] : [];
      this.receivedBytes = rest.length;
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(4);
    const waiting = this.waiting.get(correlationId);
    if (waiting === undefined) return; // timed out already
    this.waiting.delete(correlationId);
    clearTimeout(waiting.timer);
    try {
      const { bodyOffset } = decodeResponseHeader(waiting.apiKey, waiting.apiVersion, frame, 4);
      waiting.resolve(apiCodecs.get(waiting.apiKey)!.decodeResponse(waiting.apiVersion, frame, bodyOffset));
    } catch (error) {
      waiting.reject(error as Error);
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const waiting of this.waiting.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.waiting.clear();
  }

  // ── the few admin calls the benches need ─────────────────────────────────────────────────

  async createTopic(name: string, partitions: number): Promise<void> {
    const response = await this.request<CreateTopicsResponse>(ApiKey.CreateTopics, 4, {
      topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    const result = response.topics[0];
    if (
      result === undefined ||
      (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)
    ) {
      throw new Error(`CreateTopics ${name}: error ${result?.errorCode} ${result?.errorMessage ?? ''}`);
    }
  }

  /** The high watermark of each partition (ListOffsets with timestamp -1, "latest"). */
  async highWatermarks(topic: string, partitions: number): Promise<number[]> {
    const response = await this.request<ListOffsetsResponse>(ApiKey.ListOffsets, 2, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })),
        },
      ],
    });
    const found = response.topics[0]?.partitions ?? [];
    return Array.from({ length: partitions }, (_, index) => {
      const partition = found.find((p) => p.partitionIndex === index);
      if (partition === undefined || partition.errorCode !== ErrorCode.NONE)
        throw new Error(`ListOffsets ${topic}-${index}: error ${partition?.errorCode}`);
      return Number(partition.offset);
    });
  }
}
