// What a fuzz run counts: frames by kind, API, version and mutation; units by type; what happened to
// the connections; responses. Printed at the end (report.ts) and used for its checks.
import { apiCodecs } from '../../src/protocol/generated/index.js';
import { FRAME_KINDS, type Frame, type FrameKind } from './frames.js';

export function apiName(apiKey: number): string {
  return apiCodecs.get(apiKey)?.apiName ?? (apiKey < 0 ? '(random)' : `api-${apiKey}`);
}

export class FuzzStats {
  frames = 0;
  readonly framesByKind = new Map<FrameKind, number>(FRAME_KINDS.map((k) => [k, 0]));
  /** Well-formed frames by API key, and the versions they covered. */
  readonly wellFormedByApi = new Map<number, { frames: number; versions: Set<number> }>();
  /** Mutation ops, batch damages and other labels, by how often they were applied. */
  readonly ops = new Map<string, number>();
  readonly units = new Map<string, number>();
  bytesSent = 0;
  responses = 0;
  responseBytes = 0;
  readonly connections = {
    opened: 0,
    /** Closed by the broker (a frame it could not read, mostly). */
    closedByBroker: 0,
    /** Dropped by the fuzzer after STALL_MS without an answer (parked requests, a size that lied). */
    droppedStalled: 0,
    cutMidFrame: 0,
    idle: 0,
    refused: 0,
  };
  /** Closed by the broker while only well-formed frames had been sent on it, by the last one's API. */
  readonly closedAfterWellFormed = new Map<string, number>();
  readonly orderViolations: string[] = [];

  count(frame: Frame): void {
    this.frames++;
    this.framesByKind.set(frame.kind, (this.framesByKind.get(frame.kind) ?? 0) + 1);
    for (const op of frame.ops) this.ops.set(op, (this.ops.get(op) ?? 0) + 1);
    if (frame.kind === 'valid' || frame.kind === 'bad-batch') {
      let entry = this.wellFormedByApi.get(frame.apiKey);
      if (!entry) this.wellFormedByApi.set(frame.apiKey, (entry = { frames: 0, versions: new Set() }));
      entry.frames++;
      entry.versions.add(frame.version);
    }
  }
}
