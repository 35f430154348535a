import {
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  awaitGroupCoordinator,
  coordinatorStarting,
  kafkaErrorKinds,
} from '../../src/kafka/group-coordinator.ts';

/** kafkajs' own error for a broker answer with this protocol error type. */
function protocolError(type: string, message = type): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code: 0, retriable: true }));
}

// kafkajs' typings give this error no constructor argument, though it takes a message.
const coordinatorNotFound = () =>
  new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)(
    'Failed to find group coordinator',
  );

/** A clock that sleeping advances, so the wait's timing is exact and instant. */
function virtualTime() {
  let now = 0;
  const slept: number[] = [];
  return {
    clock: { now: () => now },
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

/** describeGroups answering from a script: an error to throw, or undefined to answer. */
function admin(answers: (Error | undefined)[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    describeGroups: async () => {
      const answer = answers[Math.min(calls, answers.length - 1)];
      calls += 1;
      if (answer !== undefined) throw answer;
      return { groups: [] };
    },
  };
}

describe('coordinatorStarting', () => {
  it.each([
    ['GROUP_COORDINATOR_NOT_AVAILABLE', protocolError('GROUP_COORDINATOR_NOT_AVAILABLE')],
    ['GROUP_LOAD_IN_PROGRESS', protocolError('GROUP_LOAD_IN_PROGRESS')],
    ['NOT_COORDINATOR_FOR_GROUP', protocolError('NOT_COORDINATOR_FOR_GROUP')],
    ['KafkaJSGroupCoordinatorNotFound', coordinatorNotFound()],
    [
      'GROUP_LOAD_IN_PROGRESS',
      new KafkaJSNumberOfRetriesExceeded(protocolError('GROUP_LOAD_IN_PROGRESS'), {
        retryCount: 2,
        retryTime: 300,
      }),
    ],
  ])('recognises %s, also wrapped in a retry error', (kind, error) => {
    expect(coordinatorStarting(error)).toBe(kind);
  });

  it('does not take a refusal or an outage for a starting coordinator', () => {
    expect(coordinatorStarting(protocolError('GROUP_AUTHORIZATION_FAILED'))).toBeUndefined();
    expect(coordinatorStarting(new Error('connect ECONNREFUSED'))).toBeUndefined();
    expect(kafkaErrorKinds(protocolError('GROUP_AUTHORIZATION_FAILED'))).toContain(
      'GROUP_AUTHORIZATION_FAILED',
    );
  });
});

describe('awaitGroupCoordinator', () => {
  it('answers at once when the coordinator answers', async () => {
    const time = virtualTime();
    const result = await awaitGroupCoordinator(admin([undefined]), 'g', { timeoutMs: 5_000, ...time });
    expect(result).toEqual({ ready: true, waitedMs: 0 });
    expect(time.slept).toEqual([]);
  });

  it('waits while it is starting, says so once, and ends when it answers', async () => {
    const time = virtualTime();
    const told: string[] = [];
    const broker = admin([
      coordinatorNotFound(),
      protocolError('GROUP_LOAD_IN_PROGRESS'),
      protocolError('GROUP_LOAD_IN_PROGRESS'),
      undefined,
    ]);
    const result = await awaitGroupCoordinator(broker, 'g', {
      timeoutMs: 5_000,
      ...time,
      onWaiting: (kind) => told.push(kind),
    });
    expect(result).toEqual({ ready: true, waitedMs: 750 });
    expect(broker.calls).toBe(4);
    expect(told).toEqual(['KafkaJSGroupCoordinatorNotFound']);
  });

  it('gives up after the timeout with the last answer, never sleeping past it', async () => {
    const time = virtualTime();
    const result = await awaitGroupCoordinator(admin([protocolError('GROUP_LOAD_IN_PROGRESS')]), 'g', {
      timeoutMs: 1_000,
      intervalMs: 300,
      ...time,
    });
    expect(result).toEqual({ ready: false, waitedMs: 1_000, last: 'GROUP_LOAD_IN_PROGRESS' });
    expect(time.slept).toEqual([300, 300, 300, 100]);
  });

  it('throws any other error at once, for the caller to report', async () => {
    const time = virtualTime();
    const refused = protocolError('GROUP_AUTHORIZATION_FAILED');
    const broker = admin([refused]);
    await expect(awaitGroupCoordinator(broker, 'g', { timeoutMs: 5_000, ...time })).rejects.toBe(refused);
    expect(broker.calls).toBe(1);
  });

  it('stops waiting when aborted', async () => {
    const time = virtualTime();
    const controller = new AbortController();
    const broker = admin([protocolError('GROUP_LOAD_IN_PROGRESS')]);
    const waiting = awaitGroupCoordinator(broker, 'g', {
      timeoutMs: 60_000,
      ...time,
      signal: controller.signal,
      sleep: async (ms) => {
        await time.sleep(ms);
        if (broker.calls === 3) controller.abort(new Error('stopped'));
      },
    });
    await expect(waiting).rejects.toThrow('stopped');
    expect(broker.calls).toBe(3);
  });
});
