// What a broker keeps in its data directory besides partition logs:
//   meta.properties   cluster.id and node.id, written once (Kafka's file of the same name)
//   .lock             the pid of the broker using the directory; a second broker refuses to start
//   topics.json       topic ids, partition counts and config overrides (atomically replaced)
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync dir. */
export function writeFileDurably(directory: string, name: string, content: string): void {
  const temporary = join(directory, `${name}.tmp`);
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(directory, name));
  const dirFd = openSync(directory, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue;
    const at = trimmed.search(/[=:]/);
    if (at < 0) continue;
    out[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return out;
}

/** Kafka's cluster id format: a random UUID as 22 characters of URL-safe base64. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export interface BrokerIdentity {
  clusterId: string;
  nodeId: number;
}

/** Reads meta.properties, creating it on first start. A node id that differs from the stored one is refused. */
export function loadIdentity(dataDir: string, nodeId: number): BrokerIdentity {
  mkdirSync(dataDir, { recursive: true });
  let text: string | null = null;
  try {
    text = readFileSync(join(dataDir, 'meta.properties'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text === null) {
    const identity = { clusterId: newClusterId(), nodeId };
    writeFileDurably(
      dataDir,
      'meta.properties',
      `# written by sluice on first start; do not edit\n` +
        `version=1\ncluster.id=${identity.clusterId}\nnode.id=${nodeId}\n`,
    );
    return identity;
  }
  const properties = parseProperties(text);
  const clusterId = properties['cluster.id'];
  const storedNode = Number(properties['node.id']);
  if (!clusterId || !Number.isInteger(storedNode))
    throw new DataDirError(`${join(dataDir, 'meta.properties')} lacks cluster.id or node.id`);
  if (storedNode !== nodeId) {
    throw new DataDirError(
      `data directory ${dataDir} belongs to node.id=${storedNode}, but this broker is node.id=${nodeId}`,
    );
  }
  return { clusterId, nodeId };
}

/** Takes the data directory's lock. A lock held by a live process is refused with a clear message. */
const lockedInThisProcess = new Set<string>();

export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, '.lock');
  if (lockedInThisProcess.has(path))
    throw new DataDirError(`data directory ${dataDir} is in use by another broker in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      lockedInThisProcess.add(path);
      return {
        release() {
          if (released) return;
          released = true;
          lockedInThisProcess.delete(path);
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new DataDirError(
          `data directory ${dataDir} is in use by another broker (pid ${holder}); stop it or choose another --data-dir`,
        );
      }
      // A lock left by a process that no longer runs (kill -9): take it over.
      unlinkSync(path);
    }
  }
  throw new DataDirError(`could not lock data directory ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export { parseProperties };
