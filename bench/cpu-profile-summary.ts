/**
 * Where a `node --cpu-prof` profile spent its CPU: the functions with the most self time, and the
 * share of each part of the bridge (kafkajs, decoding, transform and validation, the engine, the
 * Gong client, undici, metrics and logging, the runtime, GC).
 *
 * A sample is billed to the part of the innermost frame on its stack that belongs to one: a
 * socket write under undici is undici's, a JSON.parse under kafkajs is kafkajs', so Node's own
 * internals and V8 builtins count for whoever called them. Only stacks with no such frame stay
 * "node core". Idle samples are left out of every share.
 *
 *   node bench/cpu-profile-summary.ts FILE.cpuprofile [--from-us T --to-us T] [--top 25]
 *
 * `--from-us`/`--to-us` keep the samples taken in that window of the profile's clock (µs of
 * CLOCK_MONOTONIC, the clock of process.hrtime), e.g. the steady part of a run without start-up.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** First matching row wins; a frame no row matches is Node or V8 and is billed to its caller. */
const parts: readonly { readonly part: string; readonly match: (frame: CallFrame) => boolean }[] = [
  { part: 'gc', match: (f) => f.functionName === '(garbage collector)' },
  { part: 'idle', match: (f) => f.functionName === '(idle)' },
  { part: 'v8 (program)', match: (f) => f.functionName === '(program)' },
  { part: 'kafkajs', match: (f) => f.url.includes('/node_modules/kafkajs/') },
  {
    part: 'undici',
    match: (f) => f.url.includes('/node_modules/undici/') || f.url.startsWith('node:internal/deps/undici'),
  },
  {
    part: 'decoding',
    match: (f) =>
      /\/node_modules\/(avsc|@kafkajs\/confluent-schema-registry|protobufjs|long)\//.test(f.url) ||
      /\/src\/(kafka\/decoder|decode\/)/.test(f.url),
  },
  {
    part: 'transform + validation',
    match: (f) =>
      /\/src\/(transform|mapping)\//.test(f.url) ||
      /\/src\/gong\/(body-|validate|rule-)/.test(f.url) ||
      f.url.includes('/node_modules/zod/') ||
      f.url.includes('/node_modules/jsonata/'),
  },
  { part: 'gong client', match: (f) => f.url.includes('/src/gong/') },
  { part: 'engine + limiter', match: (f) => f.url.includes('/src/delivery/') },
  {
    part: 'metrics + logging',
    match: (f) =>
      f.url.includes('/src/observability/') ||
      /\/node_modules\/(prom-client|pino|pino-std-serializers|sonic-boom|fast-redact|tdigest|bintrees)\//.test(
        f.url,
      ),
  },
  { part: 'runtime', match: (f) => f.url.includes('/src/kafka/') },
  { part: 'cli', match: (f) => f.url.includes('/src/cli/') },
  { part: 'other modules', match: (f) => f.url.includes('/node_modules/') },
  { part: 'bridge (other)', match: (f) => f.url.includes('/src/') },
];

function partOf(frame: CallFrame): string | undefined {
  return parts.find((row) => row.match(frame))?.part;
}

export interface ProfileSummary {
  /** CPU samples (idle left out) and the ms they stand for. */
  readonly samples: number;
  readonly cpuMs: number;
  /** Share of CPU samples per part, highest first. */
  readonly parts: readonly { readonly part: string; readonly share: number }[];
  /** Functions by self time, highest first. */
  readonly top: readonly { readonly fn: string; readonly part: string; readonly share: number }[];
}

export function summariseProfile(
  profile: CpuProfile,
  window: { fromUs?: number; toUs?: number } = {},
  top = 25,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // The part a sample of each node is billed to, memoised per node.
  const billed = new Map<number, string>();
  const billTo = (id: number): string => {
    const known = billed.get(id);
    if (known !== undefined) return known;
    let part: string | undefined;
    for (let at: number | undefined = id; at !== undefined && part === undefined; at = parent.get(at)) {
      part = partOf(byId.get(at)!.callFrame);
    }
    billed.set(id, part ?? 'node core');
    return part ?? 'node core';
  };
  const partCounts = new Map<string, number>();
  const selfCounts = new Map<string, { part: string; count: number }>();
  let cpuSamples = 0;
  let cpuUs = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window.fromUs !== undefined && t < window.fromUs) continue;
    if (window.toUs !== undefined && t > window.toUs) break;
    const id = profile.samples[i]!;
    const part = billTo(id);
    if (part === 'idle') continue;
    cpuSamples += 1;
    cpuUs += delta;
    partCounts.set(part, (partCounts.get(part) ?? 0) + 1);
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.replace(/^.*\/(node_modules|src)\//, '$1/');
    const fn = `${frame.functionName || '(anonymous)'} ${file}${file === '' ? '' : `:${frame.lineNumber + 1}`}`;
    const entry = selfCounts.get(fn) ?? { part, count: 0 };
    entry.count += 1;
    selfCounts.set(fn, entry);
  }
  const share = (count: number) => (cpuSamples === 0 ? 0 : count / cpuSamples);
  return {
    samples: cpuSamples,
    cpuMs: cpuUs / 1000,
    parts: [...partCounts]
      .sort((a, b) => b[1] - a[1])
      .map(([part, count]) => ({ part, share: share(count) })),
    top: [...selfCounts]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, top)
      .map(([fn, { part, count }]) => ({ fn, part, share: share(count) })),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `${summary.samples} CPU samples, ${summary.cpuMs.toFixed(0)} ms of sampled time`,
    'by part:',
  ];
  for (const { part, share } of summary.parts) lines.push(`  ${pct(share)}  ${part}`);
  lines.push('top functions by self time:');
  for (const { fn, part, share } of summary.top) lines.push(`  ${pct(share)}  ${fn}  [${part}]`);
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'from-us': { type: 'string' },
      'to-us': { type: 'string' },
      top: { type: 'string', default: '25' },
    },
  });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: cpu-profile-summary.ts FILE.cpuprofile');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const window = {
    ...(values['from-us'] === undefined ? {} : { fromUs: Number(values['from-us']) }),
    ...(values['to-us'] === undefined ? {} : { toUs: Number(values['to-us']) }),
  };
  process.stdout.write(`${formatSummary(summariseProfile(profile, window, Number(values.top)))}\n`);
}
