/**
 * Transform + validate throughput on typical events: `node bench/transform.bench.ts [events] [runs]`.
 * Events are decoded through the newest schema first, so they have the shape the consumer hands
 * over. Prints every run and the median, on one core (this process), and as a baseline from the
 * same run the zod model alone on the same bodies: the reason validateGongBody has a fast path.
 * Also the rate for events that break an inferred rule (sent flagged), which take the zod path
 * to name the rule.
 *
 * Each rate is given twice: per second of wall time, and per second of this process's CPU time.
 * On a shared machine the wall figure moves with everyone else's load; the CPU figure much less,
 * so compare CPU figures (and ratios) between runs.
 *
 * Then mapping + validation (src/mapping/) for each worked example of docs/mappings.md, next to the
 * canonical path in the same rounds: events/s and the ratio to canonical (median of per-round
 * ratios, so load on a shared machine cancels out), compiled and on the JSONata interpreter alone.
 */
import { gongBodySchemas } from '../src/gong/validate.ts';
import { applyMapping, interpreterOnly, loadMappings, type CompiledMapping } from '../src/mapping/index.ts';
import { loadWorkedExamples, mappingsFile } from '../test/mapping/worked-examples.ts';
import { newestSchema } from '../src/schemas/registry-files.ts';
import { makeSampleEvent } from '../src/transform/sample-events.ts';
import { transformEvent, type InteractionEvent } from '../src/transform/transform.ts';

const eventCount = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 7);
const target = 100_000;

let seed = 12_345;
const random = () => {
  seed = (seed * 16_807) % 2_147_483_647;
  return (seed - 1) / 2_147_483_646;
};

const type = newestSchema().type;
const decode = (event: InteractionEvent) => type.fromBuffer(type.toBuffer(event)) as InteractionEvent;
const events: InteractionEvent[] = [];
for (let seq = 0; seq < eventCount; seq++) events.push(decode(makeSampleEvent(seq, random)));
const flaggedEvents: InteractionEvent[] = [];
for (let seq = 0; seq < Math.ceil(eventCount / 10); seq++) {
  flaggedEvents.push(decode(makeSampleEvent(seq, random, { inferred: true })));
}

const gongBodySchema = gongBodySchemas().body;
const bodies = events.map((event) => {
  const result = transformEvent(event);
  if (!result.ok) throw new Error(`sample event rejected: ${result.errors.join('; ')}`);
  return JSON.parse(JSON.stringify(result.body)) as unknown;
});

interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

function measure(count: number, work: () => void): Rate {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  work();
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { wall: count / wallSeconds, cpu: count / ((cpu.user + cpu.system) / 1e6) };
}

function transformAll(list: readonly InteractionEvent[], expectFlagged: boolean): Rate {
  return measure(list.length, () => {
    for (const event of list) {
      const result = transformEvent(event);
      if (!result.ok || (result.inferredRules !== undefined) !== expectFlagged) {
        throw new Error(`unexpected verdict for ${event.eventId}`);
      }
    }
  });
}

const zodBaseline = () =>
  measure(bodies.length, () => {
    for (const body of bodies) gongBodySchema.safeParse(body);
  });

function medians(sample: () => Rate, label: string, print = false): Rate {
  sample(); // warm-up: lets V8 optimise before measuring
  const rates: Rate[] = [];
  for (let index = 0; index < runs; index++) {
    const rate = sample();
    rates.push(rate);
    if (print) console.log(`${label} run ${index + 1}: ${format(rate)}`);
  }
  const median = (pick: (rate: Rate) => number) =>
    rates.map(pick).sort((a, b) => a - b)[Math.floor(rates.length / 2)] ?? 0;
  return { wall: median((rate) => rate.wall), cpu: median((rate) => rate.cpu) };
}

function format(rate: Rate): string {
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  return `${n(rate.wall)} events/s wall, ${n(rate.cpu)} events/s CPU`;
}

const main = medians(() => transformAll(events, false), 'transform+validate', true);
console.log(
  `transform+validate median: ${format(main)} over ${runs} runs of ${eventCount} events ` +
    `(target ${target.toLocaleString('en-US')} CPU: ${main.cpu >= target ? 'met' : 'NOT met'})`,
);
const baseline = medians(zodBaseline, 'zod');
console.log(
  `baseline, zod model alone (validation only): ${format(baseline)}; ` +
    `transform+validate is ${(main.cpu / baseline.cpu).toFixed(1)}x that (CPU)`,
);
const flagged = medians(() => transformAll(flaggedEvents, true), 'flagged');
console.log(
  `events breaking an inferred rule (sent flagged, zod names the rule): ${format(flagged)} ` +
    `over ${flaggedEvents.length} events; ${(flagged.cpu / main.cpu).toFixed(2)}x the typical rate (CPU)`,
);

// ---------------------------------------------------------------------------------------------
// Mappings (issue 16): each worked example, mapped and validated, against canonical in the same round.

const mappingTarget = 50_000;
const mappingSet = loadMappings(mappingsFile);

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function canonicalRate(count: number): number {
  const start = performance.now();
  for (let index = 0; index < count; index++) transformEvent(events[index % events.length]!);
  return count / ((performance.now() - start) / 1000);
}

async function mappedRate(
  mapping: CompiledMapping,
  inputs: readonly unknown[],
  count: number,
): Promise<number> {
  let failed = 0;
  const start = performance.now();
  for (let index = 0; index < count; index++) {
    if (!(await applyMapping(mapping, inputs[index % inputs.length])).ok) failed += 1;
  }
  const rate = count / ((performance.now() - start) / 1000);
  if (failed > 0) throw new Error(`${mapping.name}: ${failed} sample events failed to map`);
  return rate;
}

const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
console.log(
  `\nmapping + validate, ${runs} rounds of ${eventCount} events each, ratio to canonical in the same round:`,
);
for (const example of loadWorkedExamples()) {
  const mapping = mappingSet.selectMapping(example.topic, { record: example.record });
  if (mapping === undefined) throw new Error(`no mapping selected for ${example.mapping}`);
  const interpreted = interpreterOnly(mapping);
  // The interpreter is far slower; a tenth of the events keeps the round short.
  const interpretedCount = Math.max(200, Math.floor(eventCount / 10));
  await mappedRate(mapping, example.events, eventCount); // warm-up
  await mappedRate(interpreted, example.events, interpretedCount);
  const compiled: number[] = [];
  const onInterpreter: number[] = [];
  const ratios: number[] = [];
  const interpreterRatios: number[] = [];
  for (let round = 0; round < runs; round++) {
    const canonical = canonicalRate(eventCount);
    const mapped = await mappedRate(mapping, example.events, eventCount);
    const slow = await mappedRate(interpreted, example.events, interpretedCount);
    compiled.push(mapped);
    onInterpreter.push(slow);
    ratios.push(mapped / canonical);
    interpreterRatios.push(slow / canonical);
  }
  const rate = medianOf(compiled);
  console.log(
    `${example.mapping.padEnd(15)} compiled ${fmt(rate).padStart(8)} events/s, ${medianOf(ratios).toFixed(2)} of canonical ` +
      `(target ${mappingTarget.toLocaleString('en-US')}: ${rate >= mappingTarget ? 'met' : 'NOT met'}); ` +
      `JSONata interpreter only ${fmt(medianOf(onInterpreter))} events/s, ${medianOf(interpreterRatios).toFixed(3)} of canonical`,
  );
}
