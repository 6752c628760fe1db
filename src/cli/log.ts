// The broker's log: pino, writing synchronously to stdout so the last line before an exit is never
// lost. JSON lines when stdout is a pipe or a file (for collectors); one readable line per event
// when a person watches a terminal:
//
//   14:02:11.532 INFO  listening host=127.0.0.1 port=9092 dataDir=/home/me/sluice/data
import { pino, type Logger as PinoLogger } from 'pino';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { LogLevel } from './settings.js';

const levelNames: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const levelColours: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, not repeated in the readable form. */
const envelope = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Turns one pino JSON line into `time LEVEL message key=value ...`. */
export function readableLine(json: string, colour: boolean, clock: Clock = systemClock): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = new Date(typeof entry['time'] === 'number' ? entry['time'] : clock.now()).toISOString().slice(11, 23);
  const level = typeof entry['level'] === 'number' ? entry['level'] : 30;
  const name = (levelNames[level] ?? String(level)).padEnd(5);
  const shownLevel = colour ? `\u001b[${levelColours[level] ?? '0'}m${name}\u001b[0m` : name;
  const fields = Object.entries(entry)
    .filter(([key]) => !envelope.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  return `${time} ${shownLevel} ${String(entry['msg'] ?? '')}${fields === '' ? '' : ` ${fields}`}\n`;
}

export function createLogger(level: LogLevel, output: NodeJS.WriteStream = process.stdout): PinoLogger {
  if (output.isTTY) {
    const colour = !('NO_COLOR' in process.env);
    return pino({ level, base: undefined }, { write: (line: string) => void output.write(readableLine(line, colour)) });
  }
  const fd = output === process.stdout ? 1 : output === process.stderr ? 2 : null;
  if (fd === null) return pino({ level }, { write: (line: string) => void output.write(line) });
  return pino({ level }, pino.destination({ dest: fd, sync: true }));
}
