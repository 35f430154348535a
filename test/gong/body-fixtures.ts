/** A body that uses every field Gong defines, all valid: tests mutate one thing at a time. */
export function fullBody(): Record<string, unknown> {
  return {
    eventId: 'evt-1',
    timestamp: '2025-01-31T12:00:00.000Z',
    eventType: 'video watched',
    sourceSystemName: 'Acme Academy',
    sessionId: 'sess-1',
    device: 'PC',
    content: {
      contentId: 'video-7',
      contentTitle: 'Product tour',
      contentLabel: ['video', 'onboarding'],
      contentUrl: 'https://videos.example.com/7',
      contentAdditionalInfoUrl: 'https://videos.example.com/7/analysis',
      numericContentDetails: { value: 80, rangeFrom: 0, rangeTo: 100, numericType: 'PERCENTAGE' },
      stepContentDetails: { value: 'Module 2', availableSteps: ['Module 1', 'Module 2', 'Module 3'] },
      searchObjectDetails: {
        name: 'Contoso',
        objectType: 'VENDOR',
        domain: 'contoso.com',
        objectId: 'intent-1',
        url: 'https://reviews.example.com/contoso',
      },
      contentCustomFields: [{ name: 'durationSeconds', value: '600', dataType: 'DURATION' }],
    },
    person: {
      name: 'Ada Lovelace',
      email: 'ada@acme.com',
      phoneNumber: '+1-555-0100',
      personId: 'user-1',
      personBusinessContext: { objectType: 'CONTACT', objectId: '003000000000001', systemName: 'Salesforce' },
      location: { country: 'GB', state: 'GB-LND', region: 'GB-LND', city: 'London' },
      company: {
        companyId: 'cmp-1',
        name: 'Acme',
        domain: 'acme.com',
        companyBusinessContexts: [
          { objectType: 'ACCOUNT', objectId: '001000000000001', systemName: 'Salesforce' },
          { objectType: 'OPPORTUNITY', objectId: '006000000000001' },
        ],
      },
      personCustomFields: [{ name: 'plan', value: 'enterprise' }],
    },
    customFields: [{ name: 'campaign', value: 'https://mail.example.com/c/1', dataType: 'URL' }],
  };
}

/** The smallest valid body. */
export function minimalBody(): Record<string, unknown> {
  return {
    eventId: 'evt-2',
    timestamp: '2025-01-31T12:00:00Z',
    eventType: 'page viewed',
    content: { contentTitle: 'Pricing' },
  };
}

/**
 * Returns a deep copy of `body` with the value at a dotted/indexed path replaced, or deleted when
 * `value` is undefined. Missing parents are created as objects.
 */
export function patch(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const segments = path.split(/\.|(?=\[)/).map((segment) => {
    const index = /^\[(\d+)\]$/.exec(segment);
    return index === null ? segment : Number(index[1]);
  });
  let target: Record<string | number, unknown> = copy;
  for (const segment of segments.slice(0, -1)) {
    if (typeof target[segment] !== 'object' || target[segment] === null) target[segment] = {};
    target = target[segment] as Record<string | number, unknown>;
  }
  const last = segments[segments.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}
