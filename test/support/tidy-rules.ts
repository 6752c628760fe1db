// The shape rules test/tidy.test.ts holds the tree to, as functions of a root folder so that each can
// be shown to catch a bad tree as well as to pass the real one:
//   - no import cycles among source files (type-only imports count: a cycle of types is still two
//     files that cannot be understood one without the other);
//   - no non-generated source file over FILE_LINES_MAX lines, no line over LINE_COLUMNS_MAX columns;
//   - `Date.now()` only in the Clock (src/runtime/clock.ts) and storage; `node:fs` only in storage.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** One job per file: past this a file is doing several and should be split into collaborators. */
export const FILE_LINES_MAX = 600;
/** What fits beside another file on a laptop screen; prettier (printWidth) formats code to it. */
export const LINE_COLUMNS_MAX = 120;

/** Generated code is checked against its generator instead (npm run generate). */
function isGenerated(path: string): boolean {
  return path.split(sep).includes('generated');
}

export function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...typeScriptFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** An import or export `from`, a dynamic import(), a bare import: the specifier is group 1, 2 or 3. */
export const importPattern = new RegExp(
  [
    String.raw`(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]`,
    String.raw`import\(\s*['"]([^'"]+)['"]\s*\)`,
    String.raw`^import\s+['"]([^'"]+)['"]`,
  ].join('|'),
  'gm',
);

/** The files under `root` that each file imports (relative imports that resolve to a .ts file). */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of typeScriptFiles(root)) {
    const targets: string[] = [];
    for (const match of readFileSync(file, 'utf8').matchAll(importPattern)) {
      const specifier = (match[1] ?? match[2] ?? match[3])!;
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
      if (existsSync(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Every import cycle under `root`, each as the files of one strongly connected component. */
export function importCycles(root: string): string[] {
  const graph = importGraph(root);
  // Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; edge: number }> = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const target = edges[frame.edge++]!;
        if (!index.has(target)) {
          index.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(relative(root, member));
        } while (member !== frame.node);
        if (component.length > 1 || (graph.get(frame.node) ?? []).includes(frame.node)) {
          cycles.push(component.sort().join(' <-> '));
        }
      }
    }
  }
  return cycles.sort();
}

/** Non-generated files under `root` longer than FILE_LINES_MAX lines. */
export function longFiles(root: string): string[] {
  const found: string[] = [];
  for (const file of typeScriptFiles(root)) {
    if (isGenerated(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n').length - 1;
    if (lines > FILE_LINES_MAX) found.push(`${relative(root, file)}: ${lines} lines`);
  }
  return found;
}

/** Lines of non-generated files under `root` wider than LINE_COLUMNS_MAX (counted in characters). */
export function longLines(root: string): string[] {
  const found: string[] = [];
  for (const file of typeScriptFiles(root)) {
    if (isGenerated(file)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, at) => {
        const columns = [...line].length;
        if (columns > LINE_COLUMNS_MAX) found.push(`${relative(root, file)}:${at + 1}: ${columns} columns`);
      });
  }
  return found;
}

const fileSystemModules = new Set(['node:fs', 'node:fs/promises', 'fs', 'fs/promises']);
/** The one reader of files outside storage: `sluice start --config FILE` and the package version, read
 *  once before anything is served (cli/ may not import storage), read-only. */
const FILE_READERS_OUTSIDE_STORAGE = new Set([join('runtime', 'config-file.ts')]);

/**
 * Uses of the wall clock and of the file system outside the places that own them, in a src/ tree:
 * `Date.now()` belongs to the Clock (runtime/clock.ts) and storage, which takes its time from the
 * Clock it is given; `node:fs` belongs to storage, which owns every file the broker writes.
 */
export function clockAndFileSystemUses(srcRoot: string): string[] {
  const found: string[] = [];
  for (const file of typeScriptFiles(srcRoot)) {
    const path = relative(srcRoot, file);
    const layer = path.split(sep)[0];
    if (layer === 'storage') continue;
    const text = readFileSync(file, 'utf8');
    if (path !== join('runtime', 'clock.ts') && /\bDate\.now\(/.test(text)) found.push(`${path}: Date.now()`);
    for (const match of text.matchAll(importPattern)) {
      const specifier = (match[1] ?? match[2] ?? match[3])!;
      if (fileSystemModules.has(specifier) && !FILE_READERS_OUTSIDE_STORAGE.has(path))
        found.push(`${path}: imports ${specifier}`);
    }
  }
  return found;
}
