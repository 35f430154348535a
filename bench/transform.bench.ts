/**
 * Transform + validate throughput on typical events: `node bench/transform.bench.ts [events] [runs]`.
 * Events are decoded through the newest schema first, so they have the shape the consumer hands
 * over. Prints every run and the median, on one core (this process), and as a baseline from the
 * same run the zod model alone on the same bodies: the reason validateGongBody has a fast path.
 */
import { gongBodySchemas } from '../src/gong/validate.ts';
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
const events: InteractionEvent[] = [];
for (let seq = 0; seq < eventCount; seq++) {
  events.push(type.fromBuffer(type.toBuffer(makeSampleEvent(seq, random))) as InteractionEvent);
}

const gongBodySchema = gongBodySchemas().body;
const bodies = events.map((event) => {
  const result = transformEvent(event);
  if (!result.ok) throw new Error(`sample event rejected: ${result.errors.join('; ')}`);
  return JSON.parse(JSON.stringify(result.body)) as unknown;
});

function zodBaseline(): number {
  const start = performance.now();
  for (const body of bodies) gongBodySchema.safeParse(body);
  return bodies.length / ((performance.now() - start) / 1000);
}

function run(): { perSecond: number; rejected: number } {
  let rejected = 0;
  const start = performance.now();
  for (const event of events) {
    if (!transformEvent(event).ok) rejected += 1;
  }
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: events.length / seconds, rejected };
}

run(); // warm-up: lets V8 optimise before measuring
const rates: number[] = [];
for (let index = 0; index < runs; index++) {
  const { perSecond, rejected } = run();
  rates.push(perSecond);
  console.log(
    `run ${index + 1}: ${Math.round(perSecond).toLocaleString('en-US')} events/s (${rejected} rejected)`,
  );
}
rates.sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)] ?? 0;
console.log(
  `transform+validate median: ${Math.round(median).toLocaleString('en-US')} events/s over ${runs} runs of ${eventCount} events ` +
    `(target ${target.toLocaleString('en-US')}: ${median >= target ? 'met' : 'NOT met'})`,
);

zodBaseline();
const baselines: number[] = [];
for (let index = 0; index < runs; index++) baselines.push(zodBaseline());
baselines.sort((a, b) => a - b);
const baseline = baselines[Math.floor(baselines.length / 2)] ?? 0;
console.log(
  `baseline, zod model alone (validation only): ${Math.round(baseline).toLocaleString('en-US')} events/s; ` +
    `transform+validate is ${(median / baseline).toFixed(1)}x that`,
);
