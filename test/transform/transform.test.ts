import { describe, expect, it } from 'vitest';
import { contractValidator, validateGongBody } from '../../src/gong/validate.ts';
import type { InteractionEvent } from '../../src/transform/interaction-event.ts';
import { transformEvent } from '../../src/transform/transform.ts';

/** A decoded newest-schema event as avsc returns it: every field present, nulls and [] included. */
function decodedEvent(): InteractionEvent {
  return {
    eventId: 'evt-1',
    timestamp: 1_738_324_800_123,
    eventType: 'page viewed',
    sourceSystemName: null,
    sourceSystemVersion: null,
    sessionId: null,
    device: null,
    content: {
      contentId: null,
      contentTitle: 'Pricing',
      contentLabel: [],
      contentUrl: null,
      contentAdditionalInfoUrl: null,
      numericContentDetails: null,
      stepContentDetails: null,
      searchObjectDetails: null,
      contentCustomFields: [],
    },
    person: null,
    customFields: [],
    trackingId: 'trk-1',
  };
}

function bodyOf(event: InteractionEvent) {
  const result = transformEvent(event);
  if (!result.ok) throw new Error(`unexpected rejection: ${result.errors.join('; ')}`);
  return result.body;
}

describe('transformEvent', () => {
  it('drops nulls and empty arrays, keeping only what Gong needs', () => {
    expect(bodyOf(decodedEvent())).toEqual({
      eventId: 'evt-1',
      timestamp: '2025-01-31T12:00:00.123Z',
      eventType: 'page viewed',
      content: { contentTitle: 'Pricing' },
      trackingId: 'trk-1',
    });
  });

  it('maps every field of a fully populated event', () => {
    const event: InteractionEvent = {
      ...decodedEvent(),
      sourceSystemName: 'Acme',
      sourceSystemVersion: '2.1.0',
      sessionId: 'sess-1',
      device: 'MOBILE',
      content: {
        contentId: 'c-1',
        contentTitle: 'NPS',
        contentLabel: ['survey', '', ' ', 'q3'],
        contentUrl: 'https://x.io/nps',
        contentAdditionalInfoUrl: 'https://x.io/nps/report',
        numericContentDetails: { value: 9, rangeFrom: 0, rangeTo: 10, numericType: 'NPS' },
        stepContentDetails: { value: 'B', availableSteps: ['A', 'B'] },
        searchObjectDetails: {
          name: 'Contoso',
          objectType: 'PRODUCT',
          domain: 'contoso.com',
          objectId: null,
          url: '',
        },
        contentCustomFields: [{ name: 'n', value: '1', dataType: 'NUMBER' }],
      },
      person: {
        name: 'Ada',
        email: 'ada@acme.com',
        phoneNumber: '',
        personId: 'u-1',
        personBusinessContext: { objectType: 'LEAD', objectId: '00Q1', systemName: null },
        location: { country: 'GB', state: null, region: '', city: 'London' },
        company: {
          companyId: null,
          name: 'Acme',
          domain: 'acme.com',
          companyBusinessContexts: [{ objectType: 'OPPORTUNITY', objectId: '006', systemName: 'Salesforce' }],
        },
        personCustomFields: [{ name: 'plan', value: 'team', dataType: null }],
      },
      customFields: [{ name: 'at', value: '2025-01-31', dataType: 'DATE' }],
      trackingId: null,
    };
    expect(bodyOf(event)).toEqual({
      eventId: 'evt-1',
      timestamp: '2025-01-31T12:00:00.123Z',
      eventType: 'page viewed',
      sourceSystemName: 'Acme',
      sessionId: 'sess-1',
      device: 'MOBILE',
      content: {
        contentId: 'c-1',
        contentTitle: 'NPS',
        contentLabel: ['survey', 'q3'],
        contentUrl: 'https://x.io/nps',
        contentAdditionalInfoUrl: 'https://x.io/nps/report',
        numericContentDetails: { value: 9, rangeFrom: 0, rangeTo: 10, numericType: 'NPS' },
        stepContentDetails: { value: 'B', availableSteps: ['A', 'B'] },
        searchObjectDetails: { name: 'Contoso', objectType: 'PRODUCT', domain: 'contoso.com' },
        contentCustomFields: [{ name: 'n', value: '1', dataType: 'NUMBER' }],
      },
      person: {
        name: 'Ada',
        email: 'ada@acme.com',
        personId: 'u-1',
        personBusinessContext: { objectType: 'LEAD', objectId: '00Q1' },
        location: { country: 'GB', city: 'London' },
        company: {
          name: 'Acme',
          domain: 'acme.com',
          companyBusinessContexts: [{ objectType: 'OPPORTUNITY', objectId: '006', systemName: 'Salesforce' }],
        },
        personCustomFields: [{ name: 'plan', value: 'team', dataType: 'STRING' }],
      },
      customFields: [{ name: 'at', value: '2025-01-31', dataType: 'DATE' }],
    });
  });

  describe('timestamp', () => {
    it.each([
      ['a Date (avsc with a timestamp-millis logical type)', new Date(Date.UTC(2025, 0, 31, 12, 0, 0, 5))],
      ['epoch ms as a number (avsc without logical types)', Date.UTC(2025, 0, 31, 12, 0, 0, 5)],
      ['epoch ms as a bigint', BigInt(Date.UTC(2025, 0, 31, 12, 0, 0, 5))],
    ])('accepts %s and prints UTC with milliseconds', (_label, timestamp) => {
      expect(bodyOf({ ...decodedEvent(), timestamp }).timestamp).toBe('2025-01-31T12:00:00.005Z');
    });

    it('prints the epoch and pre-epoch instants in full', () => {
      expect(bodyOf({ ...decodedEvent(), timestamp: 0 }).timestamp).toBe('1970-01-01T00:00:00.000Z');
      expect(bodyOf({ ...decodedEvent(), timestamp: -1 }).timestamp).toBe('1969-12-31T23:59:59.999Z');
    });

    it.each([
      [253_402_300_800_000, 'must be epoch milliseconds within years 0000-9999, got 253402300800000'],
      [-62_167_219_200_001, 'must be epoch milliseconds within years 0000-9999, got -62167219200001'],
      [
        Number.MAX_SAFE_INTEGER,
        `must be epoch milliseconds within years 0000-9999, got ${Number.MAX_SAFE_INTEGER}`,
      ],
      [new Date(Number.NaN), 'must be epoch milliseconds within years 0000-9999, got an invalid Date'],
    ])('rejects %s with a path instead of throwing', (timestamp, message) => {
      expect(transformEvent({ ...decodedEvent(), timestamp })).toEqual({
        ok: false,
        errors: [`timestamp: ${message}`],
      });
    });
  });

  it('keeps an empty person so the anonymous-person rule names what is missing', () => {
    const event: InteractionEvent = {
      ...decodedEvent(),
      trackingId: null,
      person: { name: '', email: null, location: { country: null }, company: { domain: ' ' } },
    };
    expect(transformEvent(event)).toEqual({
      ok: false,
      errors: [
        'person.personId: required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)',
        'person.company.domain: required for an anonymous person (name, email, phoneNumber and personBusinessContext all empty)',
      ],
    });
  });

  it('accepts an anonymous visitor with personId and company domain', () => {
    const event: InteractionEvent = {
      ...decodedEvent(),
      trackingId: null,
      person: { personId: 'anon-1', company: { domain: 'acme.com', companyBusinessContexts: [] } },
    };
    expect(bodyOf(event).person).toEqual({ personId: 'anon-1', company: { domain: 'acme.com' } });
  });

  it('keeps a company known only by its CRM records', () => {
    const event: InteractionEvent = {
      ...decodedEvent(),
      trackingId: null,
      person: {
        email: 'a@b.c',
        company: { companyBusinessContexts: [{ objectType: 'ACCOUNT', objectId: '001' }] },
      },
    };
    expect(bodyOf(event).person?.company).toEqual({
      companyBusinessContexts: [{ objectType: 'ACCOUNT', objectId: '001' }],
    });
  });

  it('passes required fields through even when empty, so validation names them', () => {
    const event: InteractionEvent = {
      ...decodedEvent(),
      eventId: '',
      content: {
        ...decodedEvent().content,
        contentTitle: ' ',
        stepContentDetails: { value: 'A', availableSteps: [] },
      },
    };
    const warnings = [
      'eventId: must not be empty [inferred rule blank-required-string]',
      'content.contentTitle: must not be blank [inferred rule blank-required-string]',
      'content.stepContentDetails.availableSteps: must have at least 1 item(s) [inferred rule steps-not-empty]',
    ];
    // Only inferred rules are broken: by default the body is made, and sent with warnings ...
    expect(transformEvent(event)).toEqual({
      ok: true,
      body: {
        eventId: '',
        timestamp: '2025-01-31T12:00:00.123Z',
        eventType: 'page viewed',
        content: { contentTitle: ' ', stepContentDetails: { value: 'A', availableSteps: [] } },
        trackingId: 'trk-1',
      },
      warnings,
      inferredRules: ['blank-required-string', 'steps-not-empty'],
    });
    // ... and with a validator that rejects them, the same problems withhold it.
    expect(transformEvent(event, contractValidator(true))).toEqual({
      ok: false,
      errors: warnings,
      inferredRules: ['blank-required-string', 'steps-not-empty'],
    });
  });

  it('rejects an event that carries both a person and a trackingId', () => {
    const event: InteractionEvent = { ...decodedEvent(), person: { name: 'Ada' } };
    expect(transformEvent(event)).toEqual({
      ok: false,
      errors: ['trackingId: must be absent when person is sent (send either person or trackingId)'],
    });
  });

  it('handles events built by hand with optional fields left out', () => {
    const event: InteractionEvent = {
      eventId: 'e',
      timestamp: 0,
      eventType: 't',
      content: { contentTitle: 'c', stepContentDetails: { value: 'A' } },
    };
    expect(transformEvent(event)).toMatchObject({
      ok: true,
      body: { content: { contentTitle: 'c', stepContentDetails: { value: 'A', availableSteps: [] } } },
      inferredRules: ['steps-not-empty'],
    });
  });

  it('returns a rejection, not an exception, for input that is not an event at all', () => {
    expect(transformEvent(null as unknown as InteractionEvent)).toEqual({
      ok: false,
      errors: ['(root): expected an event record'],
    });
    expect(transformEvent({ ...decodedEvent(), content: null } as unknown as InteractionEvent)).toEqual({
      ok: false,
      errors: ['content: required'],
    });
  });

  it('emits bodies that survive JSON and still validate', () => {
    const body = bodyOf(decodedEvent());
    expect(validateGongBody(JSON.parse(JSON.stringify(body)))).toEqual({ ok: true, body });
  });
});
