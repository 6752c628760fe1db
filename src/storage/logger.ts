// One line per event worth an operator's attention (DESIGN.md "Logs are structured").
// The storage layer does not choose where lines go; the broker passes its logger in.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface StorageLogger {
  log(level: LogLevel, event: string, fields: Record<string, unknown>): void;
}

/** JSON lines on stderr for warn and error; quiet otherwise. Used when no logger is given. */
export const stderrLogger: StorageLogger = {
  log(level, event, fields) {
    if (level === 'debug' || level === 'info') return;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, component: 'storage', event, ...fields })}\n`,
    );
  },
};

/** Keeps every line, for tests that check what recovery reported. */
export class MemoryLogger implements StorageLogger {
  readonly lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
    this.lines.push({ level, event, fields });
  }
  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.event === name).map((line) => line.fields);
  }
}
