/**
 * Summarises a V8 `.cpuprofile` (as written by `--cpu-prof`, e.g. `BENCH_WEBHOOK_CPU_PROF=<dir>` of bench/webhook.ts):
 * self time by function and by package, and inclusive time by function (each function counted once per sample).
 * With a marks file (`marks-<pid>.json`, the app host's monotonic times of each CPU sample message) only the samples
 * between mark `from` and mark `to` count (bench/webhook.ts: 0 → 1 is the routed burst, 2 → 3 the unrouted one).
 * Run: `npx tsx bench/support/cpuprofile-summary.ts <file.cpuprofile> [--marks marks.json --from 0 --to 1] [--top 40]
 * [--per 400]` (`--per`: also print each line as ms per event for that many events).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--')));
if (!file) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile> [--marks file --from i --to j] [--top n] [--per events]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(option('top') ?? 40);
const per = option('per') ? Number(option('per')) : undefined;
let from = -Infinity;
let to = Infinity;
const marksFile = option('marks');
if (marksFile) {
  const marks = JSON.parse(readFileSync(marksFile, 'utf8')) as number[];
  from = marks[Number(option('from') ?? 0)] ?? -Infinity;
  to = marks[Number(option('to') ?? 1)] ?? Infinity;
}

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/s11-webhook\//, '');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

function packageOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (!url) return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native)';
  if (url.startsWith('node:')) return url.split('/')[0]!.replace(/^node:internal.*/, 'node:internal');
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const project = /\/s11-webhook\/([^/]+(?:\/[^/]+)?)/.exec(url);
  return project ? project[1]! : url;
}

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const packages = new Map<string, number>();
let time = profile.startTime;
let total = 0;
for (let i = 0; i < profile.samples.length; i += 1) {
  const delta = profile.timeDeltas[i] ?? 0;
  time += delta;
  if (time < from || time > to) continue;
  const id = profile.samples[i]!;
  const node = byId.get(id)!;
  if (node.callFrame.functionName === '(idle)') continue;
  const us = delta;
  total += us;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  packages.set(packageOf(node), (packages.get(packageOf(node)) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = label(byId.get(at)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
}

const ms = (us: number): string => `${(us / 1000).toFixed(1).padStart(8)} ms${per ? ` ${(us / 1000 / per).toFixed(3).padStart(7)}/ev` : ''}`;
const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)}  ${name}`);
};
console.log(`busy samples in window: ${ms(total)}${Number.isFinite(from) ? ` (window ${((to - from) / 1000).toFixed(0)} ms)` : ''}`);
print('self time by package', packages);
print('self time by function', self);
print('inclusive time by function', inclusive);
