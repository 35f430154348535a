import { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { classifyProduceError, producerErrorRules } from '../../src/kafka/producer-error-policy.ts';

/** A broker error as kafkajs raises it, wrapped as `producer.send` rejects with it. */
function brokerError(type: string, retriable: boolean, wrap: 'none' | 'retries' | 'non-retriable' = 'none') {
  const inner = Object.assign(new KafkaJSProtocolError(`broker said ${type}`), { type, retriable });
  // As kafkajs' retrier builds them (retry/index.js): the original in `cause`.
  if (wrap === 'retries')
    return new KafkaJSNumberOfRetriesExceeded(inner, {
      retryCount: 0,
      retryTime: 300,
      cause: inner,
    } as never);
  if (wrap === 'non-retriable')
    return new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(inner, {
      cause: inner,
    });
  return inner;
}

function clientError(name: string) {
  const error = new Error(`kafkajs ${name}`);
  error.name = name;
  return error;
}

describe('producer error policy table', () => {
  it('walks every row, bare and under each kafkajs wrapper', () => {
    for (const rule of producerErrorRules) {
      expect(rule.why.length, rule.match).toBeGreaterThan(10);
      const isType = /^[A-Z_]+$/.test(rule.match);
      for (const wrap of ['none', 'retries', 'non-retriable'] as const) {
        const error = isType
          ? brokerError(rule.match, rule.outcome === 'retry', wrap)
          : clientError(rule.match);
        expect(classifyProduceError(error), `${rule.match} (${wrap})`).toEqual({
          outcome: rule.outcome,
          matched: rule.match,
        });
      }
    }
  });

  it.each([
    ['MESSAGE_TOO_LARGE', 'too-large'],
    ['RECORD_LIST_TOO_LARGE', 'too-large'],
    ['TOPIC_AUTHORIZATION_FAILED', 'halt'],
    ['UNKNOWN_TOPIC_OR_PARTITION', 'halt'],
    ['NOT_ENOUGH_REPLICAS', 'retry'],
    ['REQUEST_TIMED_OUT', 'retry'],
    ['NOT_LEADER_FOR_PARTITION', 'retry'],
  ] as const)('%s is %s', (type, outcome) => {
    expect(classifyProduceError(brokerError(type, true, 'retries')).outcome).toBe(outcome);
  });

  it('a deleted topic (no partition in the metadata) halts', () => {
    expect(classifyProduceError(clientError('KafkaJSMetadataNotLoaded')).outcome).toBe('halt');
  });

  it('a lost reply (connection closed, request timed out) is retried', () => {
    expect(classifyProduceError(clientError('KafkaJSConnectionClosedError')).outcome).toBe('retry');
    expect(classifyProduceError(clientError('KafkaJSRequestTimeoutError')).outcome).toBe('retry');
  });

  it('a broker error outside the table follows kafkajs: non-retriable halts rather than spins', () => {
    expect(classifyProduceError(brokerError('DELEGATION_TOKEN_EXPIRED', false, 'non-retriable'))).toEqual({
      outcome: 'halt',
      matched: 'DELEGATION_TOKEN_EXPIRED',
      unknown: true,
    });
    expect(classifyProduceError(brokerError('OFFSET_NOT_AVAILABLE', true, 'retries'))).toEqual({
      outcome: 'retry',
      matched: 'OFFSET_NOT_AVAILABLE',
      unknown: true,
    });
  });

  it('an error that is not Kafka at all is retried and flagged', () => {
    expect(classifyProduceError(new TypeError('boom'))).toEqual({
      outcome: 'retry',
      matched: 'TypeError',
      unknown: true,
    });
    expect(classifyProduceError('a string')).toEqual({ outcome: 'retry', matched: 'unknown', unknown: true });
  });
});
