// Where a tool reads and writes, injectable so tests can run tools in-process.
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Readable } from 'node:stream';

export interface ToolIo {
  stdin: Readable;
  out(text: string): void;
  err(text: string): void;
  /** Resolves when the user asks to stop (Ctrl-C); tests pass a promise they control. */
  interrupted: Promise<void>;
  /** Where the tools read the time (default the system clock). */
  clock?: Clock;
}

export function processIo(): ToolIo {
  return {
    stdin: process.stdin,
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    clock: systemClock,
    interrupted: new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
  };
}

/** The common client options from `--bootstrap` (default 127.0.0.1:9092): quick to give up on an unreachable broker. */
export function clientOptions(bootstrap: string | undefined): {
  bootstrap: string;
  clientId: string;
  retries: number;
  retryBackoffMs: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
} {
  return {
    bootstrap: bootstrap ?? '127.0.0.1:9092',
    clientId: 'sluice-cli',
    retries: 2,
    retryBackoffMs: 100,
    connectTimeoutMs: 3000,
    requestTimeoutMs: 10_000,
  };
}
