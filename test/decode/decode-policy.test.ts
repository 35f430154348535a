import { describe, expect, it } from 'vitest';
import { BridgeError, errorCatalogue } from '../../src/errors.ts';
import {
  classifyRegistryAnswer,
  decodeFailureAction,
  decodeFailureRules,
  registryAnswerRules,
} from '../../src/decode/decode-policy.ts';

describe('registry answer table', () => {
  it('walks every row: its own status range gives its answer', () => {
    for (const rule of registryAnswerRules) {
      expect(rule.why.length).toBeGreaterThan(10);
      expect(rule.from).toBeLessThanOrEqual(rule.to);
      const first = registryAnswerRules.find(
        (other) =>
          rule.from >= other.from &&
          rule.from <= other.to &&
          (other.errorCode === undefined || other.errorCode === rule.errorCode),
      );
      expect(classifyRegistryAnswer(rule.from, rule.errorCode), `${rule.from} ${rule.errorCode ?? ''}`).toBe(
        first,
      );
    }
  });

  it.each([
    [200, undefined, 'found'],
    [404, 40403, 'unknown-id'],
    [404, undefined, 'unavailable'],
    [404, 40401, 'unavailable'],
    [401, undefined, 'auth-refused'],
    [403, 40301, 'auth-refused'],
    [400, 0, 'unavailable'],
    [422, 42201, 'unavailable'],
    [429, undefined, 'unavailable'],
    [301, undefined, 'unavailable'],
    [500, 50001, 'unavailable'],
    [503, undefined, 'unavailable'],
    [600, undefined, 'unavailable'],
  ] as const)('HTTP %i (error_code %s) is %s', (status, errorCode, answer) => {
    expect(classifyRegistryAnswer(status, errorCode).answer).toBe(answer);
  });

  it('never makes a poison record of anything but the registry saying "no such id"', () => {
    for (let status = 100; status < 600; status += 1) {
      const answer = classifyRegistryAnswer(status, undefined).answer;
      expect(answer === 'unknown-id', String(status)).toBe(false);
    }
  });
});

describe('decode failure table', () => {
  it('walks every row', () => {
    for (const rule of decodeFailureRules) {
      expect(rule.why.length).toBeGreaterThan(10);
      expect(decodeFailureAction(new BridgeError(rule.code, 'x'))).toBe(rule.action);
      // Dead-lettered failures are not retriable in the catalogue; retried and halting ones are.
      expect(errorCatalogue[rule.code].retriable, rule.code).toBe(rule.action !== 'dead-letter');
    }
  });

  it('dead-letters a non-Avro id and an unparseable Avro schema, never retries them', () => {
    expect(decodeFailureAction(new BridgeError('SCHEMA_NOT_AVRO', 'json'))).toBe('dead-letter');
    expect(decodeFailureAction(new BridgeError('SCHEMA_UNPARSEABLE', 'bad default'))).toBe('dead-letter');
  });

  it('halts on refused registry credentials and retries an id not found yet', () => {
    expect(decodeFailureAction(new BridgeError('REGISTRY_AUTH_FAILED', '401'))).toBe('halt');
    expect(decodeFailureAction(new BridgeError('SCHEMA_ID_NOT_FOUND_YET', 'lag'))).toBe('retry');
  });

  it('has no row for anything else: a bug, never dead-lettered', () => {
    expect(decodeFailureAction(new TypeError('boom'))).toBeUndefined();
    expect(decodeFailureAction(new BridgeError('GONG_TRANSIENT', 'x'))).toBeUndefined();
  });
});
