// A broker in a child process (startBroker from the built package, temp data dir), for attacks that
// might bring the process down: the test survives and can check whether the broker did.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** dist/test/support/broker-process.js -> dist/src/index.js */
const indexUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'index.js')).href;

// The child prints its port, and exits when its stdin closes, so it never outlives the test.
const script = `
import { startBroker } from ${JSON.stringify(indexUrl)};
const broker = await startBroker({ properties: JSON.parse(process.argv[1]) });
process.stdout.write(JSON.stringify({ port: broker.port }) + '\\n');
process.stdin.on('end', () => broker.close().finally(() => process.exit(0)));
process.stdin.resume();
`;

export interface BrokerProcess {
  port: number;
  child: ChildProcess;
  /** What the child wrote to stderr (an uncaught exception's stack, if it crashed). */
  stderr(): string;
  /** The exit code or signal once the child has exited, else null. */
  exited(): string | null;
  stop(): Promise<void>;
}

export async function startBrokerProcess(
  properties: Record<string, string> = {},
  startTimeoutMs = 10_000,
): Promise<BrokerProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(properties)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let exit: string | null = null;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<void>((resolve) =>
    child.on('close', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`broker process did not start in ${startTimeoutMs} ms: ${stderr}`)),
      startTimeoutMs,
    );
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve((JSON.parse(out.slice(0, newline)) as { port: number }).port);
      }
    });
    void closed.then(() => {
      clearTimeout(timer);
      reject(new Error(`broker process exited (${exit}) before it started: ${stderr}`));
    });
  });
  return {
    port,
    child,
    stderr: () => stderr,
    exited: () => exit,
    async stop() {
      if (exit === null) {
        child.stdin!.end();
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await closed;
        clearTimeout(killer);
      }
    },
  };
}
