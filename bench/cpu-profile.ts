// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and sums self time by function. The
// profile is a call tree (`nodes`) plus a list of samples: `samples[i]` is the node on top of the
// stack at sample i and `timeDeltas[i]` the microseconds since the previous sample, so sample i
// stands for the time until sample i+1. Timestamps are V8's monotonic clock in microseconds, the
// same clock as process.hrtime() on Linux, which lets a caller cut out the window of one run.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  functionName: string;
  /** Script, shortened: project files relative to the repository, node internals as node:... */
  location: string;
  selfMs: number;
}

export interface ProfileSummary {
  /** Wall time covered by the samples in the window. */
  wallMs: number;
  /** Time the main thread ran JavaScript, GC or native code, i.e. not "(idle)". */
  busyMs: number;
  top: SelfTime[];
  /** Self time per area of the code (see `areaOf`), busy time only. */
  areas: Map<string, number>;
}

export function readCpuProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

export function profileBounds(profile: CpuProfile): { startUs: number; endUs: number } {
  return { startUs: profile.startTime, endUs: profile.endTime };
}

function shorten(url: string, root: string): string {
  if (url === '') return '';
  let text = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  if (text.startsWith(root)) text = text.slice(root.length);
  return text.replace(/^dist\//, '');
}

/** A coarse bucket for a location, so the reader sees which layer the time is spent in. */
export function areaOf(functionName: string, location: string): string {
  if (location.startsWith('src/')) return location.split('/').slice(0, 2).join('/');
  if (location.includes('node_modules/'))
    return `dependency ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location)?.[1] ?? '?'}`;
  if (location.startsWith('node:')) return 'node internals';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return 'native, outside JS (program)';
  return location === '' ? `native: ${functionName}` : location;
}

/** Sums self time by function+location within [fromUs, toUs] (the whole profile when omitted). */
export function summarizeProfile(
  profile: CpuProfile,
  repositoryRoot: string,
  topCount: number,
  fromUs = -Infinity,
  toUs = Infinity,
): ProfileSummary {
  const nodes = new Map<number, ProfileNode>();
  for (const node of profile.nodes) nodes.set(node.id, node);
  const root = repositoryRoot.endsWith('/') ? repositoryRoot : `${repositoryRoot}/`;
  const byFunction = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  let wallUs = 0;
  let busyUs = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const durationUs = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    if (time < fromUs || time > toUs) continue;
    wallUs += durationUs;
    const node = nodes.get(profile.samples[i]!);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busyUs += durationUs;
    const location = shorten(url, root);
    const name = functionName === '' ? '(anonymous)' : functionName;
    const key = `${name}\u0000${location}\u0000${lineNumber}`;
    const entry = byFunction.get(key) ?? {
      functionName: name,
      location: location === '' ? '' : `${location}:${lineNumber + 1}`,
      selfMs: 0,
    };
    entry.selfMs += durationUs / 1000;
    byFunction.set(key, entry);
    const area = areaOf(name, location);
    areas.set(area, (areas.get(area) ?? 0) + durationUs / 1000);
  }
  const top = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topCount);
  return { wallMs: wallUs / 1000, busyMs: busyUs / 1000, top, areas };
}
