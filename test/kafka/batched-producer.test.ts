import { KafkaJSProtocolError, type ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../src/errors.ts';
import {
  nonIdempotentProducerConfig,
  createBatchedProducer,
  type BatchedProducerOptions,
  type ProducerSendFailure,
} from '../../src/kafka/batched-producer.ts';

/**
 * The serialized, batched producer with a scripted kafkajs producer: which requests went out,
 * how many at once, and what each caller was told.
 */

function brokerError(type: string) {
  return Object.assign(new KafkaJSProtocolError(type), { type });
}

type Answer = (request: ProducerRecord) => Promise<void>;

function scripted(answers: Answer[] = []) {
  const requests: string[][] = [];
  let outstanding = 0;
  let maxOutstanding = 0;
  const producer = {
    async send(request: ProducerRecord) {
      outstanding += 1;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      requests.push(request.messages.map((message) => String(message.key)));
      try {
        await (answers.shift() ?? (async () => {}))(request);
        return [];
      } finally {
        outstanding -= 1;
      }
    },
  };
  return { producer, requests, maxOutstanding: () => maxOutstanding };
}

function build(
  producer: BatchedProducerOptions['producer'],
  overrides: Partial<BatchedProducerOptions> = {},
) {
  const sleeps: number[] = [];
  const failures: ProducerSendFailure[] = [];
  const batched = createBatchedProducer({
    producer,
    topic: 'dlq',
    clock: { now: () => 0 },
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      signal?.throwIfAborted();
    },
    onFailure: (failure) => failures.push(failure),
    ...overrides,
  });
  return { batched, sleeps, failures };
}

const message = (key: string, bytes = 1) => ({ key, value: Buffer.alloc(bytes) });

describe('serialized, batched producer', () => {
  it('is not idempotent and leaves retries to the policy', () => {
    expect(nonIdempotentProducerConfig).toMatchObject({
      idempotent: false,
      allowAutoTopicCreation: false,
      retry: { retries: 0 },
    });
  });

  it('with lingerMs, a batch waits for more messages, and goes at once when it is full', async () => {
    const kafka = scripted();
    const lingered: number[] = [];
    const { batched } = build(kafka.producer, {
      lingerMs: 20,
      maxBatchMessages: 3,
      sleep: (ms, signal) =>
        new Promise<void>((resolve, reject) => {
          lingered.push(ms);
          const timer = setTimeout(resolve, ms);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('cut'));
          });
        }),
    });
    const first = batched.send(message('a'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Lingering: nothing sent yet.
    expect(kafka.requests).toEqual([]);
    const rest = ['b', 'c', 'd'].map((key) => batched.send(message(key)));
    // c made the batch full: it went without waiting out the 20 ms; d lingers for the next one.
    await first;
    expect(kafka.requests).toEqual([['a', 'b', 'c']]);
    await Promise.all(rest);
    expect(kafka.requests).toEqual([['a', 'b', 'c'], ['d']]);
    expect(lingered).toEqual([20, 20]);
  });

  it('with lingerMs, close() during the wait rejects what waits, and sends nothing', async () => {
    const kafka = scripted();
    const { batched } = build(kafka.producer, {
      lingerMs: 60_000,
      sleep: (_ms, signal) =>
        new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('cut')))),
    });
    const sent = batched.send(message('a'));
    batched.close();
    await expect(sent).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(kafka.requests).toEqual([]);
  });

  it('keeps one request outstanding and sends what waits meanwhile as one batch', async () => {
    let release: () => void = () => {};
    const first = new Promise<void>((resolve) => (release = resolve));
    const kafka = scripted([() => first]);
    const { batched } = build(kafka.producer);
    const sends = ['a', 'b', 'c', 'd'].map((key) => batched.send(message(key)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(kafka.requests).toEqual([['a']]);
    release();
    await Promise.all(sends);
    expect(kafka.requests).toEqual([['a'], ['b', 'c', 'd']]);
    expect(kafka.maxOutstanding()).toBe(1);
  });

  it('caps a batch by messages and bytes; a message above the byte cap goes alone', async () => {
    let release: () => void = () => {};
    const kafka = scripted([() => new Promise<void>((resolve) => (release = resolve))]);
    const { batched } = build(kafka.producer, { maxBatchMessages: 2, maxBatchBytes: 100 });
    const sends = [
      message('x'),
      message('a'),
      message('b'),
      message('c'),
      message('big', 500),
      message('d'),
    ].map((one) => batched.send(one));
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    await Promise.all(sends);
    expect(kafka.requests).toEqual([['x'], ['a', 'b'], ['c'], ['big'], ['d']]);
  });

  it('sends the same batch again after a retriable failure, reporting each one', async () => {
    const kafka = scripted([
      async () => {
        throw brokerError('NOT_ENOUGH_REPLICAS');
      },
      async () => {
        throw Object.assign(new Error('Connection closed'), { name: 'KafkaJSConnectionClosedError' });
      },
    ]);
    const { batched, sleeps, failures } = build(kafka.producer, { retryBaseMs: 100, retryMaxMs: 150 });
    await batched.send(message('a'));
    expect(kafka.requests).toEqual([['a'], ['a'], ['a']]);
    expect(sleeps).toEqual([100, 150]);
    expect(failures.map((failure) => [failure.outcome, failure.matched, failure.attempt])).toEqual([
      ['retry', 'NOT_ENOUGH_REPLICAS', 1],
      ['retry', 'KafkaJSConnectionClosedError', 2],
    ]);
  });

  it('splits a batch refused for its size, and refuses only the message that is too large alone', async () => {
    const tooLarge = async (request: ProducerRecord) => {
      if (request.messages.some((one) => String(one.key) === 'big')) throw brokerError('MESSAGE_TOO_LARGE');
    };
    let release: () => void = () => {};
    const kafka = scripted([
      () => new Promise<void>((resolve) => (release = resolve)),
      tooLarge,
      tooLarge,
      tooLarge,
      tooLarge,
    ]);
    const { batched, sleeps } = build(kafka.producer);
    const results = ['x', 'a', 'big', 'b'].map((key) =>
      batched.send(message(key)).then(
        () => 'ok',
        (error: unknown) => (isBridgeError(error) ? error.code : 'other'),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'PRODUCE_TOO_LARGE', 'ok']);
    expect(kafka.requests).toEqual([['x'], ['a', 'big', 'b'], ['a'], ['big'], ['b']]);
    expect(sleeps).toEqual([]);
  });

  it('halts while the topic refuses every write, probes with backoff, and recovers on the first success', async () => {
    const refused = async () => {
      throw brokerError('TOPIC_AUTHORIZATION_FAILED');
    };
    const kafka = scripted([refused, refused, refused]);
    const { batched, sleeps } = build(kafka.producer, { probeBaseMs: 1_000, probeMaxMs: 3_000 });
    const seen: string[] = [];
    batched.halts.on('halted', ({ error }) => seen.push(`halted ${error}`));
    batched.halts.on('recovered', () => seen.push('recovered'));
    await batched.send(message('a'));
    expect(sleeps).toEqual([1_000, 2_000, 3_000]);
    expect(seen).toEqual(['halted TOPIC_AUTHORIZATION_FAILED: TOPIC_AUTHORIZATION_FAILED', 'recovered']);
    expect(batched.halts.isHalted()).toBe(false);
  });

  it('keeps probing with a batch whose callers all gave up (a revoke), so the halt can end', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const kafka = scripted(
      Array.from({ length: 3 }, () => async () => {
        attempts += 1;
        if (attempts === 1) controller.abort();
        throw brokerError('UNKNOWN_TOPIC_OR_PARTITION');
      }),
    );
    const { batched } = build(kafka.producer);
    const aborted = await batched.send(message('a'), controller.signal).catch((error: unknown) => error);
    expect(isBridgeError(aborted) && aborted.code).toBe('SHUTTING_DOWN');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(kafka.requests).toEqual([['a'], ['a'], ['a'], ['a']]);
    expect(batched.halts.isHalted()).toBe(false);
  });

  it('in fail mode (one-shot commands) rejects what waits with TOPIC_UNWRITABLE instead of probing', async () => {
    const kafka = scripted([
      async () => {
        throw brokerError('TOPIC_AUTHORIZATION_FAILED');
      },
    ]);
    const { batched, sleeps } = build(kafka.producer, { onHalt: 'fail' });
    await expect(batched.send(message('a'))).rejects.toMatchObject({ code: 'TOPIC_UNWRITABLE' });
    expect(sleeps).toEqual([]);
    expect(batched.halts.isHalted()).toBe(false);
  });

  it('rejects everything waiting with SHUTTING_DOWN on close, and refuses new sends', async () => {
    const kafka = scripted([() => new Promise<void>(() => {})]);
    const { batched } = build(kafka.producer);
    const first = batched.send(message('a')).catch((error: unknown) => error);
    const second = batched.send(message('b')).catch((error: unknown) => error);
    batched.close();
    for (const result of await Promise.all([first, second])) {
      expect(isBridgeError(result) && result.code).toBe('SHUTTING_DOWN');
    }
    await expect(batched.send(message('c'))).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('a caller that aborts before its message left is not written at all', async () => {
    let release: () => void = () => {};
    const kafka = scripted([() => new Promise<void>((resolve) => (release = resolve))]);
    const { batched } = build(kafka.producer);
    const controller = new AbortController();
    const first = batched.send(message('a'));
    const gone = batched.send(message('b'), controller.signal).catch(() => 'aborted');
    const kept = batched.send(message('c'));
    controller.abort();
    expect(await gone).toBe('aborted');
    release();
    await Promise.all([first, kept]);
    expect(kafka.requests).toEqual([['a'], ['c']]);
  });
});
