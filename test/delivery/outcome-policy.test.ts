import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  classifyTransport,
  retriableStatuses,
  statusRules,
  tokenUnavailableCode,
} from '../../src/delivery/outcome-policy.ts';

describe('outcome policy table', () => {
  it.each([
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [409, 'duplicate'],
    [400, 'rejected'],
    [413, 'rejected'],
    [422, 'rejected'],
    [401, 'halt'],
    [403, 'halt'],
    [429, 'throttled'],
    [408, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [599, 'transient'],
    [404, 'halt'],
    [405, 'halt'],
    [301, 'halt'],
    [411, 'rejected'],
    [415, 'rejected'],
    [407, 'halt'],
    [421, 'halt'],
    [425, 'halt'],
    [431, 'halt'],
    [414, 'rejected'],
  ] as const)('HTTP %i is %s', (status, outcome) => {
    expect(classifyStatus(status).outcome).toBe(outcome);
  });

  it('401 and 403 halt for credentials, 404 for the endpoint: never dead-lettered', () => {
    expect(classifyStatus(401)).toEqual({ outcome: 'halt', haltReason: 'credentials' });
    expect(classifyStatus(403)).toEqual({ outcome: 'halt', haltReason: 'credentials' });
    expect(classifyStatus(404)).toEqual({ outcome: 'halt', haltReason: 'endpoint' });
  });

  it('407, 421, 425 and 431 are about the way to Gong, which every record shares: a halt (issue 13 §5)', () => {
    expect(classifyStatus(407)).toEqual({ outcome: 'halt', haltReason: 'proxy' });
    expect(classifyStatus(421)).toEqual({ outcome: 'halt', haltReason: 'endpoint' });
    expect(classifyStatus(425)).toEqual({ outcome: 'halt', haltReason: 'connection' });
    expect(classifyStatus(431)).toEqual({ outcome: 'halt', haltReason: 'headers' });
  });

  it('an answer outside the table is retried and flagged, never rejected', () => {
    expect(classifyStatus(600)).toEqual({ outcome: 'transient', unknown: true });
    expect(classifyStatus(102)).toEqual({ outcome: 'transient', unknown: true });
  });

  it('every rule explains itself and covers a real range', () => {
    for (const rule of statusRules) {
      expect(rule.why.length).toBeGreaterThan(10);
      expect(rule.from).toBeLessThanOrEqual(rule.to);
    }
  });

  it('no 4xx other than 408 and 429 is retried, and every 5xx is', () => {
    expect(retriableStatuses.filter((status) => status < 500)).toEqual([408, 429]);
    expect(retriableStatuses.filter((status) => status >= 500)).toHaveLength(100);
  });

  it.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_SOCKET',
  ])('transport failure %s is transient', (code) => {
    expect(classifyTransport(code)).toEqual({ outcome: 'transient' });
  });

  it('an unknown transport code is retried and flagged', () => {
    expect(classifyTransport('EWHATEVER')).toEqual({ outcome: 'transient', unknown: true });
  });

  it('an unreadable token file halts like a refused credential', () => {
    expect(classifyTransport(tokenUnavailableCode)).toEqual({
      outcome: 'halt',
      haltReason: 'token-unavailable',
    });
  });
});
