// Runs Debian's kcat (librdkafka) against a broker for interop tests.
import { spawn } from 'node:child_process';

/**
 * Runs `kcat -b <bootstrap> ...args`, feeding `input` on stdin; resolves with stdout, rejects on a
 * non-zero exit (with stderr) or after `timeoutMs` (the process is killed).
 */
export function runKcat(bootstrap: string, args: string[], input = '', timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', bootstrap, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `kcat ${args.join(' ')} timed out after ${timeoutMs} ms; stdout: ${stdout.length} bytes; stderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${stderr}`));
    });
    child.stdin.on('error', () => undefined); // kcat may exit before reading all of it
    child.stdin.end(input);
  });
}
