/**
 * The expression languages considered for mappings (docs/mappings.md, "Why JSONata"), on the same
 * page-view mapping: `node bench/mapping-languages.bench.ts [events] [runs]`. Each variant builds
 * the same body from the same decoded events (validation left out: it is the same for all);
 * prints events/s medians and the ratio to hand-written JavaScript measured in the same round,
 * then each language's error messages for a typo and for a type error.
 */
import { Environment } from '@marcbachmann/cel-js';
import * as jmespath from '@jmespath-community/jmespath';
import jsonata from 'jsonata';
import { compileExpression, NEEDS_INTERPRETER } from '../src/mapping/expression.ts';
import { deviceFromUserAgent, toGongTimestamp } from '../src/mapping/helpers.ts';

const eventCount = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 7);

interface PageView {
  anonymousId: string;
  userId: string | null;
  occurredAt: number;
  sessionId: string;
  page: { url: string; path: string; title: string | null };
  context: { userAgent: string | null };
  traits: { email: string | null; companyDomain: string | null } | null;
  tags: string[];
}

const events: PageView[] = [];
for (let seq = 0; seq < eventCount; seq++) {
  const known = seq % 2 === 0;
  events.push({
    anonymousId: `anon-${seq}`,
    userId: known ? `u-${seq}` : null,
    occurredAt: 1_767_225_600_000 + seq,
    sessionId: `s-${seq % 97}`,
    page: { url: `https://acme.example/p/${seq % 50}`, path: `/p/${seq % 50}`, title: `Page ${seq % 50}` },
    context: { userAgent: seq % 3 === 0 ? 'Mozilla/5.0 (iPhone) Mobile' : 'Mozilla/5.0 (Windows NT 10.0)' },
    traits: known ? { email: `user${seq}@globex.example`, companyDomain: 'globex.example' } : null,
    tags: ['pricing', 'web'],
  });
}

// The same mapping in each language.
const jsonataSource = `{
  "eventId": anonymousId & ":" & $string(occurredAt),
  "timestamp": $timestamp(occurredAt),
  "eventType": "page viewed",
  "sessionId": sessionId,
  "device": $device(context.userAgent),
  "content": {"contentId": page.path, "contentTitle": page.title, "contentUrl": page.url, "contentLabel": tags},
  "person": userId ? {"personId": userId, "email": traits.email, "company": {"domain": traits.companyDomain}},
  "trackingId": userId ? null : anonymousId
}`;
const celSource = `{
  "eventId": e.anonymousId + ":" + string(e.occurredAt),
  "timestamp": timestamp_ms(e.occurredAt),
  "eventType": "page viewed",
  "sessionId": e.sessionId,
  "device": device(e.context.userAgent),
  "content": {"contentId": e.page.path, "contentTitle": e.page.title, "contentUrl": e.page.url, "contentLabel": e.tags},
  "person": e.userId != null ? dyn({"personId": e.userId, "email": e.traits.email, "company": {"domain": e.traits.companyDomain}}) : dyn(null),
  "trackingId": e.userId != null ? dyn(null) : dyn(e.anonymousId)
}`;
const jmespathSource = `{
  eventId: join(':', [anonymousId, to_string(occurredAt)]),
  timestamp: timestamp_ms(occurredAt),
  eventType: 'page viewed',
  sessionId: sessionId,
  device: device(context.userAgent),
  content: {contentId: page.path, contentTitle: page.title, contentUrl: page.url, contentLabel: tags},
  person: userId && {personId: userId, email: traits.email, company: {domain: traits.companyDomain}},
  trackingId: !userId && anonymousId || null
}`;

function handWritten(event: PageView): unknown {
  return {
    eventId: `${event.anonymousId}:${event.occurredAt}`,
    timestamp: toGongTimestamp(event.occurredAt),
    eventType: 'page viewed',
    sessionId: event.sessionId,
    device: deviceFromUserAgent(event.context.userAgent),
    content: {
      contentId: event.page.path,
      contentTitle: event.page.title,
      contentUrl: event.page.url,
      contentLabel: event.tags,
    },
    ...(event.userId !== null
      ? {
          person: {
            personId: event.userId,
            email: event.traits?.email,
            company: { domain: event.traits?.companyDomain },
          },
        }
      : { trackingId: event.anonymousId }),
  };
}

const compiled = compileExpression(jsonataSource);
if (!compiled.compiled) throw new Error('the JSONata mapping should compile to closures');
const celEnvironment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerFunction('timestamp_ms(dyn): string', (value: unknown) => toGongTimestamp(Number(value)) ?? '')
  .registerFunction('device(dyn): dyn', (value: unknown) => deviceFromUserAgent(value) ?? null);
const cel = celEnvironment.parse(celSource);
jmespath.registerFunction('timestamp_ms', ([value]) => toGongTimestamp(value) ?? null, [
  { types: [jmespath.TYPE_NUMBER] },
]);
jmespath.registerFunction('device', ([value]) => deviceFromUserAgent(value) ?? null, [
  { types: [jmespath.TYPE_STRING, jmespath.TYPE_NULL] },
]);
const jmespathAst = jmespath.compile(jmespathSource);

type Variant = { name: string; run: () => Promise<void> | void };
const variants: Variant[] = [
  { name: 'hand-written JavaScript (baseline)', run: () => events.forEach(handWritten) },
  {
    name: 'JSONata compiled (gong-bridge fast path)',
    run: () => {
      for (const event of events)
        if (compiled.evaluateFast(event) === NEEDS_INTERPRETER) throw new Error('declined');
    },
  },
  {
    name: 'JSONata 2 interpreter (async evaluate)',
    run: async () => {
      for (const event of events) await compiled.interpret(event);
    },
  },
  { name: 'CEL (@marcbachmann/cel-js)', run: () => events.forEach((event) => cel({ e: event })) },
  {
    name: 'JMESPath (@jmespath-community/jmespath)',
    run: () => events.forEach((event) => jmespath.TreeInterpreter.search(jmespathAst, event as never)),
  },
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const rates = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
const ratios = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
for (const variant of variants) await variant.run(); // warm-up
for (let round = 0; round < runs; round++) {
  let baseline = 0;
  for (const variant of variants) {
    const start = performance.now();
    await variant.run();
    const rate = events.length / ((performance.now() - start) / 1000);
    if (baseline === 0) baseline = rate;
    rates.get(variant.name)!.push(rate);
    ratios.get(variant.name)!.push(rate / baseline);
  }
}
console.log(`${runs} rounds of ${eventCount} page views, one core; medians:`);
for (const variant of variants) {
  console.log(
    `${variant.name.padEnd(42)} ${Math.round(median(rates.get(variant.name)!))
      .toLocaleString('en-US')
      .padStart(10)} events/s  ` + `${median(ratios.get(variant.name)!).toFixed(3)} of hand-written`,
  );
}

// Error messages: a typo (an unterminated string) and a type error at run time.
const show = (label: string, action: () => unknown) => {
  try {
    const value = action();
    if (value instanceof Promise)
      return value.then(
        (result) => console.log(`${label}: no error, got ${JSON.stringify(result)}`),
        (error: unknown) => console.log(`${label}: ${describe(error)}`),
      );
    console.log(`${label}: no error, got ${JSON.stringify(value)}`);
  } catch (error) {
    console.log(`${label}: ${describe(error)}`);
  }
  return undefined;
};
const describe = (error: unknown) => {
  const { code, position, message } = error as { code?: string; position?: number; message?: string };
  return `${message?.split('\n').join(' | ')}${code === undefined ? '' : ` [${code}${position === undefined ? '' : ` at ${position}`}]`}`;
};
console.log('\nerror messages:');
show('JSONata, typo', () => jsonata('"page viewed'));
await show('JSONata, type error', () => jsonata('page.title + 1').evaluate(events[0]));
show('CEL, typo', () => celEnvironment.parse('"page viewed'));
show('CEL, type error', () => celEnvironment.evaluate('e.page.title + 1', { e: events[0] }));
show('CEL, absent field', () => celEnvironment.evaluate('e.traits.email', { e: events[1] }));
show('JMESPath, typo', () => jmespath.compile("'page viewed"));
show('JMESPath, type error', () => jmespath.search(events[0] as never, 'abs(page.title)'));
