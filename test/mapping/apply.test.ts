import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/errors.ts';
import {
  applyMapping,
  compileMappings,
  interpreterOnly,
  type CompiledMapping,
} from '../../src/mapping/index.ts';
import { deadLetterReasons } from '../../src/observability/metrics.ts';

/** One mapping named "orders" from a body tree written as YAML under `body:`. */
function mappingOf(body: string): CompiledMapping {
  const set = compileMappings(
    `version: 1\nmappings:\n  - name: orders\n    match: { topics: orders }\n    body:\n${body}`,
    {
      file: 'mappings.yaml',
    },
  );
  return set.mappings[0]!;
}

const base = `      eventId: id
      timestamp: $timestamp(at)
      eventType: { const: order placed }
      content:
        contentTitle: title
`;

describe('applyMapping: run-time errors become dead letters', () => {
  it('a helper that throws fails the record with MAPPING_FAILED, naming the mapping, field and message', async () => {
    const mapping = mappingOf(base.replace('eventId: id', "eventId: $eventId(['customer', 'at'])"));
    const result = await applyMapping(mapping, { at: 1_767_225_600_000, title: 'Order' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('MAPPING_FAILED');
    expect(result.error.retriable).toBe(false);
    expect(result.error.message).toBe(
      'mapping "orders" failed: eventId: $eventId: field customer is absent; every named field must be present, or two different events would share an id',
    );
    expect(result.error.context.details).toEqual([
      'eventId: $eventId: field customer is absent; every named field must be present, or two different events would share an id',
    ]);
  });

  it('an expression JSONata refuses at run time names its error code, on either path', async () => {
    const mapping = mappingOf(
      base.replace('contentTitle: title', 'contentTitle: "title & \' x\' & $number(qty)"'),
    );
    const result = await applyMapping(mapping, { id: 'o-1', at: 0, title: 'Order', qty: 'three' });
    expect(result.ok === false && result.error.code).toBe('MAPPING_FAILED');
    expect(result.ok === false && result.error.context.details).toEqual([
      'content.contentTitle: Unable to cast value to a number: "three" (JSONata D3030 at character 23)',
    ]);
    const arithmetic = mappingOf(base.replace('contentTitle: title', 'contentTitle: title + 1'));
    for (const candidate of [arithmetic, interpreterOnly(arithmetic)]) {
      const failed = await applyMapping(candidate, { id: 'o-1', at: 0, title: 'Order' });
      expect(failed.ok === false && failed.error.context.details).toEqual([
        'content.contentTitle: The left side of the "+" operator must evaluate to a number (JSONata T2001 at character 7)',
      ]);
    }
  });

  it('a runaway expression on the interpreter fails its record instead of holding the consumer', async () => {
    const mapping = mappingOf(
      base.replace(
        'contentTitle: title',
        'contentTitle: "($deep := function($n) { 1 + $deep($n + 1) }; $deep(0))"',
      ),
    );
    expect(mapping.interpretedFields).toEqual(['content.contentTitle']);
    const result = await applyMapping(mapping, { id: 'o-1', at: 0, title: 'T' });
    expect(result.ok === false && result.error.code).toBe('MAPPING_FAILED');
    expect(result.ok === false && result.error.context.details?.[0]).toMatch(
      /^content\.contentTitle: .*\(JSONata D1011/,
    );
  });

  it('reports every failing field, and summarises past three', async () => {
    const mapping = mappingOf(`      eventId: $timestamp(a)
      timestamp: $timestamp(b)
      eventType: $timestamp(c)
      sessionId: $timestamp(d)
      content:
        contentTitle: title
`);
    const result = await applyMapping(mapping, { a: 'x', b: 'y', c: 'z', d: true, title: 'T' });
    expect(result.ok === false && result.error.context.details).toHaveLength(4);
    expect(result.ok === false && result.error.message).toMatch(
      /^mapping "orders" failed: eventId: \$timestamp: cannot read "x" as a time: .*\(and 1 more\)$/,
    );
  });

  it('a body that breaks Gong’s rules is GONG_INVALID with the validator’s paths', async () => {
    const mapping = mappingOf(`${base}      trackingId: visitor
      person:
        email: email
`);
    const result = await applyMapping(mapping, {
      id: 'o-1',
      at: 0,
      title: '  ',
      visitor: 'v-1',
      email: 'a@b.example',
    });
    expect(result.ok === false && result.error.code).toBe('GONG_INVALID');
    // The blank title breaks only an inferred rule (issue 14 §7): by default it is sent, not refused.
    expect(result.ok === false && result.error.context.details).toEqual([
      'trackingId: must be absent when person is sent (send either person or trackingId)',
    ]);
    expect(result.ok === false && result.error.message).toBe(
      'mapping "orders" built a body Gong would refuse: trackingId: must be absent when person is sent (send either person or trackingId)',
    );
  });

  it('a whole-body expression that builds no object fails with MAPPING_FAILED', async () => {
    const set = compileMappings(
      'version: 1\nmappings:\n  - { name: whole, match: { topics: t }, body: "title" }',
      { file: 'f.yaml' },
    );
    const result = await applyMapping(set.mappings[0]!, { title: 'x' });
    expect(result.ok === false && result.error.message).toBe(
      'mapping "whole" failed: (body): must build an object, got string',
    );
  });

  it('MAPPING_FAILED is a non-retriable dead-letter reason', () => {
    expect(errorCatalogue.MAPPING_FAILED.retriable).toBe(false);
    expect(deadLetterReasons).toContain('MAPPING_FAILED');
  });
});

describe('applyMapping: building the body', () => {
  it('a false `when` drops the object and forgives errors below it', async () => {
    const mapping = mappingOf(`${base}      person:
        when: "$exists(customer)"
        personId: customer.id
        email: $timestamp(customer)
      trackingId: "$exists(customer) ? null : visitor"
`);
    const anonymous = await applyMapping(mapping, { id: 'o-1', at: 0, title: 'T', visitor: 'v-9' });
    expect(anonymous.ok && anonymous.body).toEqual({
      eventId: 'o-1',
      timestamp: '1970-01-01T00:00:00.000Z',
      eventType: 'order placed',
      content: { contentTitle: 'T' },
      trackingId: 'v-9',
    });
    const known = await applyMapping(mapping, { id: 'o-1', at: 0, title: 'T', customer: { id: 'c-1' } });
    expect(known.ok === false && known.error.context.details?.[0]).toMatch(
      /^person\.email: \$timestamp: cannot read an object/,
    );
  });

  it('tidies values the way the canonical transform does', async () => {
    const mapping = mappingOf(`      eventId: orderNo
      timestamp: at
      eventType: { const: order placed }
      sessionId: "''"
      content:
        contentTitle: title
        contentLabel: tag
        contentCustomFields: ["$customField('qty', qty)", "$customField('note', note)"]
        numericContentDetails:
          value: big
          rangeFrom: 0
          rangeTo: 100
`);
    const result = await applyMapping(mapping, {
      orderNo: 1042,
      at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
      title: 'Order',
      tag: 'only-one',
      qty: 3,
      note: '',
      big: 42n,
    });
    expect(result.ok && result.body).toEqual({
      eventId: '1042',
      timestamp: '2026-01-02T03:04:05.006Z',
      eventType: 'order placed',
      content: {
        contentTitle: 'Order',
        contentLabel: ['only-one'],
        contentCustomFields: [{ name: 'qty', value: '3', dataType: 'NUMBER' }],
        numericContentDetails: { value: 42, rangeFrom: 0, rangeTo: 100 },
      },
    });
  });

  it('keeps a person whose fields are all absent, so the validator names what is missing', async () => {
    const mapping = mappingOf(`${base}      person:
        name: "'   '"
        location:
          city: city
`);
    const result = await applyMapping(mapping, { id: 'o-1', at: 0, title: 'T', city: null });
    expect(result.ok === false && result.error.context.details).toEqual([
      'person.personId: required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)',
      'person.company.domain: required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)',
    ]);
  });

  it('is pure: the same event gives the same body, and the event is not modified', async () => {
    const mapping = mappingOf(`${base}      customFields: $customFields(props)
`);
    const event = { id: 'o-1', at: 5, title: 'T', props: { a: 1 } };
    const snapshot = structuredClone(event);
    const first = await applyMapping(mapping, event);
    const second = await applyMapping(mapping, event);
    expect(first).toEqual(second);
    expect(event).toEqual(snapshot);
  });
});
