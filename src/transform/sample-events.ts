import type { EventContent, EventCustomField, EventPerson, InteractionEvent } from './interaction-event.ts';

/**
 * Realistic canonical events for produce-sample, benchmarks, the demo and tests. Every event is
 * complete for the newest schema (all fields present, nulls and empty arrays included), so it can
 * be encoded with `newestSchema().type.toBuffer(event)` as is. The timestamp is epoch ms, which is
 * what avsc expects when no logical type is registered.
 *
 * Deterministic: the same `seq` and the same `random` sequence give the same event. The kind of
 * event cycles with `seq`, so any run of seven events covers every kind.
 */
export interface SampleEventOptions {
  /**
   * Schema-valid but breaking a rule Gong documents: the transform rejects it with a path and the
   * bridge dead-letters it (GONG_INVALID) whatever the settings.
   */
  readonly invalid?: boolean;
  /**
   * Schema-valid but breaking one rule Gong does not document (src/gong/rule-catalogue.ts): the
   * bridge sends it flagged by default, and a strict sandbox answers 400.
   */
  readonly inferred?: boolean;
  /**
   * When the event happened (epoch ms). Tests leave it out for deterministic output; tools that
   * produce events for a live run pass "now", so Gong never sees interactions from the future.
   */
  readonly timestampMs?: number;
}

export const sampleEventKinds = [
  'page-view',
  'video-watched',
  'nps-survey',
  'course-progress',
  'vendor-comparison',
  'anonymous-visitor',
  'tracking-only',
] as const;

export const invalidSampleKinds = [
  'anonymous-without-domain',
  'anonymous-without-person-id',
  'person-and-tracking-id',
  'anonymous-unidentified',
] as const;

/** One per inferred rule an Avro event can break; the sample's name is the rule's. */
export const inferredSampleKinds = [
  'numeric-range-order',
  'numeric-value-in-range',
  'steps-not-empty',
  'step-in-available-steps',
  'custom-field-value-type',
  'blank-required-string',
] as const;

export type SampleEventKind = (typeof sampleEventKinds)[number];
export type InvalidSampleKind = (typeof invalidSampleKinds)[number];
export type InferredSampleKind = (typeof inferredSampleKinds)[number];

/** 2025-06-01T00:00:00.000Z */
const BASE_MS = 1_748_736_000_000;

const firstNames = ['Ada', 'Grace', 'Linus', 'Margaret', 'Alan', 'Barbara', 'Dennis', 'Frances'];
const lastNames = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Turing', 'Liskov', 'Ritchie', 'Allen'];
const companies = [
  { name: 'Acme Corp', domain: 'acme.com' },
  { name: 'Globex', domain: 'globex.io' },
  { name: 'Initech', domain: 'initech.net' },
  { name: 'Umbrella', domain: 'umbrella.example' },
];
const pages = ['Pricing', 'Security overview', 'Integrations', 'Customer stories', 'API reference'];
const videos = ['Product tour', 'Onboarding webinar', 'Quarterly roadmap'];
const courses = ['Admin certification', 'Analyst basics'];
const steps = ['Enrolled', 'Module 1', 'Module 2', 'Module 3', 'Completed'];
const vendors = ['Contoso', 'Fabrikam', 'Northwind'];
const countries = ['US', 'GB', 'DE', 'IL', 'FR'];

export function makeSampleEvent(
  seq: number,
  random: () => number,
  options: SampleEventOptions = {},
): InteractionEvent {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length) % items.length]!;
  const hex = (length: number) => {
    let out = '';
    for (let i = 0; i < length; i++) out += Math.floor(random() * 16).toString(16);
    return out;
  };
  const kind = sampleEventKinds[seq % sampleEventKinds.length]!;
  const event = baseEvent(seq, random, hex, options.timestampMs);

  const knownPerson = (): EventPerson => {
    const first = pick(firstNames);
    const last = pick(lastNames);
    const company = pick(companies);
    const lead = random() < 0.3;
    return {
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}@${company.domain}`,
      phoneNumber: random() < 0.5 ? `+1-555-${String(Math.floor(random() * 10_000)).padStart(4, '0')}` : null,
      personId: `user-${hex(8)}`,
      personBusinessContext: {
        objectType: lead ? 'LEAD' : 'CONTACT',
        objectId: `${lead ? '00Q' : '003'}${hex(12)}`,
        systemName: 'Salesforce',
      },
      location: {
        country: pick(countries),
        state: null,
        region: null,
        city: random() < 0.5 ? 'Springfield' : null,
      },
      company: {
        companyId: `cmp-${hex(6)}`,
        name: company.name,
        domain: company.domain,
        companyBusinessContexts:
          random() < 0.5
            ? [
                { objectType: 'ACCOUNT', objectId: `001${hex(12)}`, systemName: 'Salesforce' },
                { objectType: 'OPPORTUNITY', objectId: `006${hex(12)}`, systemName: 'Salesforce' },
              ]
            : [{ objectType: 'ACCOUNT', objectId: `001${hex(12)}`, systemName: null }],
      },
      personCustomFields: [{ name: 'plan', value: pick(['free', 'team', 'enterprise']), dataType: 'STRING' }],
    };
  };
  const anonymousPerson = (): EventPerson => ({
    ...emptyPerson(),
    personId: `anon-${hex(12)}`,
    location: { country: pick(countries), state: null, region: null, city: null },
    company: { companyId: null, name: null, domain: pick(companies).domain, companyBusinessContexts: [] },
  });

  switch (kind) {
    case 'page-view': {
      const page = pick(pages);
      event.eventType = 'page viewed';
      event.content = content(page, {
        contentId: `page-${page.toLowerCase().replace(/\s+/g, '-')}`,
        contentLabel: ['website', pick(['pricing', 'product', 'docs'])],
        contentUrl: `https://www.example.com/${page.toLowerCase().replace(/\s+/g, '-')}`,
      });
      event.person = knownPerson();
      break;
    }
    case 'video-watched':
      event.eventType = 'video watched';
      event.content = content(pick(videos), {
        contentId: `video-${hex(6)}`,
        contentUrl: `https://videos.example.com/${hex(10)}`,
        numericContentDetails: {
          value: Math.floor(random() * 101),
          rangeFrom: 0,
          rangeTo: 100,
          numericType: 'PERCENTAGE',
        },
        contentCustomFields: [
          { name: 'durationSeconds', value: String(60 + Math.floor(random() * 3600)), dataType: 'DURATION' },
        ],
      });
      event.person = knownPerson();
      break;
    case 'nps-survey':
      event.eventType = 'survey answered';
      event.content = content('Quarterly NPS survey', {
        contentId: 'nps-q3',
        numericContentDetails: {
          value: Math.floor(random() * 11),
          rangeFrom: 0,
          rangeTo: 10,
          numericType: 'NPS',
        },
      });
      event.person = knownPerson();
      event.customFields = [
        { name: 'answeredAt', value: new Date(BASE_MS + seq * 1000).toISOString(), dataType: 'DATE' },
      ];
      break;
    case 'course-progress': {
      const reached = Math.floor(random() * steps.length);
      event.eventType = 'course progressed';
      event.content = content(pick(courses), {
        contentId: `course-${hex(4)}`,
        contentAdditionalInfoUrl: `https://academy.example.com/report/${hex(8)}`,
        stepContentDetails: { value: steps[reached]!, availableSteps: [...steps] },
        contentCustomFields: [
          { name: 'certified', value: String(reached === steps.length - 1), dataType: 'BOOLEAN' },
        ],
      });
      event.person = knownPerson();
      break;
    }
    case 'vendor-comparison': {
      const vendor = pick(vendors);
      event.eventType = 'vendor compared';
      event.content = content(`${vendor} vs. us`, {
        searchObjectDetails: {
          name: vendor,
          objectType: pick(['VENDOR', 'PRODUCT', 'CATEGORY'] as const),
          domain: `${vendor.toLowerCase()}.com`,
          objectId: `intent-${hex(6)}`,
          url: random() < 0.5 ? `https://reviews.example.com/${vendor.toLowerCase()}` : null,
        },
      });
      event.person = anonymousPerson();
      break;
    }
    case 'anonymous-visitor':
      event.eventType = 'page viewed';
      event.content = content(pick(pages), { contentUrl: `https://www.example.com/${hex(6)}` });
      event.person = anonymousPerson();
      break;
    case 'tracking-only':
      event.eventType = 'link clicked';
      event.content = content('Newsletter link', {
        contentUrl: `https://www.example.com/newsletter/${hex(6)}`,
        contentCustomFields: [
          { name: 'campaign', value: `https://mail.example.com/c/${hex(6)}`, dataType: 'URL' },
        ],
      });
      event.person = null;
      event.trackingId = `trk-${hex(16)}`;
      break;
  }

  if (options.invalid === true) makeInvalid(event, invalidSampleKinds[seq % invalidSampleKinds.length]!, hex);
  if (options.inferred === true)
    breakInferredRule(event, inferredSampleKinds[seq % inferredSampleKinds.length]!);
  return event;
}

function breakInferredRule(event: InteractionEvent, kind: InferredSampleKind): void {
  switch (kind) {
    case 'numeric-range-order':
      event.content.numericContentDetails = { value: null, rangeFrom: 10, rangeTo: 1, numericType: 'RATING' };
      break;
    case 'numeric-value-in-range':
      event.content.numericContentDetails = { value: 11, rangeFrom: 0, rangeTo: 10, numericType: 'NPS' };
      break;
    case 'steps-not-empty':
      event.content.stepContentDetails = { value: 'Module 1', availableSteps: [] };
      break;
    case 'step-in-available-steps':
      event.content.stepContentDetails = { value: 'Module 9', availableSteps: ['Enrolled', 'Completed'] };
      break;
    case 'custom-field-value-type':
      event.customFields = [{ name: 'score', value: 'high', dataType: 'NUMBER' }];
      break;
    case 'blank-required-string':
      event.eventType = ' ';
      break;
  }
}

function makeInvalid(
  event: InteractionEvent,
  kind: InvalidSampleKind,
  hex: (length: number) => string,
): void {
  switch (kind) {
    case 'anonymous-without-domain':
      event.person = { ...emptyPerson(), personId: `anon-${hex(12)}` };
      event.trackingId = null;
      break;
    case 'anonymous-without-person-id':
      event.person = { ...emptyPerson(), company: { ...emptyCompany(), domain: 'acme.com' } };
      event.trackingId = null;
      break;
    case 'anonymous-unidentified':
      event.person = { ...emptyPerson(), location: { country: 'US', state: null, region: null, city: null } };
      event.trackingId = null;
      break;
    case 'person-and-tracking-id':
      event.person ??= { ...emptyPerson(), name: 'Ada Lovelace' };
      event.trackingId = `trk-${hex(16)}`;
      break;
  }
}

function baseEvent(
  seq: number,
  random: () => number,
  hex: (length: number) => string,
  timestampMs: number | undefined,
): InteractionEvent {
  return {
    eventId: `evt-${String(seq).padStart(8, '0')}-${hex(8)}`,
    timestamp: (timestampMs ?? BASE_MS + seq * 1000) + Math.floor(random() * 1000),
    eventType: 'page viewed',
    sourceSystemName: 'gong-bridge-sample',
    sourceSystemVersion: '1.0.0',
    sessionId: random() < 0.8 ? `sess-${hex(10)}` : null,
    device: random() < 0.3 ? 'MOBILE' : random() < 0.9 ? 'PC' : null,
    content: content('placeholder', {}),
    person: null,
    customFields: [],
    trackingId: null,
  };
}

function content(title: string, fields: Partial<EventContent>): EventContent {
  return {
    contentId: null,
    contentTitle: title,
    contentLabel: [],
    contentUrl: null,
    contentAdditionalInfoUrl: null,
    numericContentDetails: null,
    stepContentDetails: null,
    searchObjectDetails: null,
    contentCustomFields: [] as EventCustomField[],
    ...fields,
  };
}

function emptyCompany(): NonNullable<EventPerson['company']> {
  return { companyId: null, name: null, domain: null, companyBusinessContexts: [] };
}

function emptyPerson(): EventPerson {
  return {
    name: null,
    email: null,
    phoneNumber: null,
    personId: null,
    personBusinessContext: null,
    location: null,
    company: null,
    personCustomFields: [],
  };
}
