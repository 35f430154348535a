import type { DeliveryEngine, DeliveryOutcome } from '../delivery/engine.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import { decodeFailureAction } from '../decode/decode-policy.ts';
import type { RecordPreparer } from '../decode/prepare.ts';
import { isBridgeError } from '../errors.ts';
import type { Settlement } from '../receipts/receipt.ts';
import type { DeadLetterReason, DlqWriter, SourceRecord } from './dlq.ts';
import type { RuntimeEvents } from './events.ts';
import { recordBytes } from './record-limits.ts';

/** What the runtime counts for its stats; the record handler adds to it. */
export interface RuntimeCounts {
  consumed: number;
  delivered: number;
  duplicates: number;
  deadLettered: number;
  /** Receipts written and acknowledged (KAFKA_RECEIPTS_TOPIC). */
  receipts: number;
}

export interface RecordHandlerOptions {
  readonly preparer: RecordPreparer;
  readonly engine: Pick<DeliveryEngine, 'deliver'>;
  readonly dlq: DlqWriter;
  readonly events: RuntimeEvents;
  readonly counts: RuntimeCounts;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** Backoff while the registry is unavailable: base, doubling up to max. */
  readonly registryRetryBaseMs: number;
  readonly registryRetryMaxMs: number;
}

/**
 * One record to a settled state: prepared (decode, map or transform, validate), then delivered,
 * a duplicate, or dead-lettered. The handler resolves once the record settled, with what its
 * receipt says (receipts/receipt.ts); it rejects when
 * the record was interrupted (its signal aborted) or hit a bug, which the runtime's dispatch
 * tells apart. The decisions live elsewhere: decode-policy.ts for what the preparer throws, the
 * engine's outcome policy for Gong's answers, dlq.ts for the letter.
 */
export function createRecordHandler(
  options: RecordHandlerOptions,
): (record: SourceRecord, signal: AbortSignal) => Promise<Settlement> {
  const { preparer, engine, dlq, events, counts, clock, sleep } = options;
  const registryBase = options.registryRetryBaseMs;
  const registryMax = options.registryRetryMaxMs;

  async function deadLetter(
    record: SourceRecord,
    why: DeadLetterReason,
    signal: AbortSignal,
  ): Promise<Settlement> {
    // A letter too large for the topic is replaced by a reference letter with a reason of its own.
    const written = await dlq.write(record, why, signal);
    counts.deadLettered += 1;
    events.emit('dead-lettered', {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      reason: written.reason,
      dlqTopic: dlq.topic,
      ...(why.eventId === undefined ? {} : { eventId: why.eventId }),
      ...(why.status === undefined ? {} : { status: why.status }),
      ...(why.inferredRules === undefined ? {} : { inferredRules: why.inferredRules }),
    });
    return {
      outcome: 'dead-lettered',
      reason: why.reason,
      referenceLetter: written.reference,
      eventId: why.eventId,
      status: why.status,
      requestId: why.requestId,
      attempts: why.attempts ?? 0,
      schemaId: why.schemaId,
    };
  }

  async function prepareWithRetry(record: SourceRecord, signal: AbortSignal) {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        // Key and headers count too: the dead letter copies them, and a record the DLQ topic
        // cannot take would block its partition behind a write that never succeeds.
        return await preparer.prepare({
          topic: record.topic,
          value: record.value,
          size: recordBytes(record),
        });
      } catch (error) {
        // decode-policy.ts: poison came back as a result; what is left is retried, or waits out
        // a halt (the lookup probes, reported once through its halt source). The rest is a bug.
        const action = decodeFailureAction(error);
        if (!isBridgeError(error) || (action !== 'retry' && action !== 'halt')) throw error;
        if (action === 'halt') {
          await sleep(registryBase, signal);
          continue;
        }
        const retryInMs = Math.min(registryMax, registryBase * 2 ** Math.min(attempt - 1, 16));
        events.emit('registry-unavailable', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          code: error.code,
          error: error.message,
          retryInMs,
        });
        await sleep(retryInMs, signal);
      }
    }
  }

  return async function handle(record: SourceRecord, signal: AbortSignal): Promise<Settlement> {
    const prepared = await prepareWithRetry(record, signal);
    if (!prepared.ok) return deadLetter(record, prepared.deadLetter, signal);
    const { body, ids } = prepared;
    const outcome: DeliveryOutcome = await engine.deliver(body, {
      signal,
      eventId: body.eventId,
    });
    switch (outcome.kind) {
      case 'delivered':
      case 'duplicate': {
        if (outcome.kind === 'delivered') counts.delivered += 1;
        else counts.duplicates += 1;
        const sentAt = Number(record.timestamp);
        events.emit('delivered', {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          eventId: body.eventId,
          outcome: outcome.kind,
          status: outcome.status,
          attempts: outcome.attempts,
          latencyMs: Number.isFinite(sentAt) ? Math.max(0, clock.wallNow() - sentAt) : 0,
        });
        return {
          outcome: outcome.kind,
          eventId: body.eventId,
          status: outcome.status,
          requestId: outcome.requestId,
          attempts: outcome.attempts,
          schemaId: ids.schemaId,
        };
      }
      case 'rejected':
        return deadLetter(
          record,
          {
            reason: 'GONG_REJECTED',
            message: `Gong answered ${outcome.status}`,
            status: outcome.status,
            errors: outcome.errors,
            requestId: outcome.requestId,
            attempts: outcome.attempts,
            inferredRules: outcome.inferredRules,
            ...ids,
          },
          signal,
        );
      case 'invalid':
        return deadLetter(
          record,
          {
            reason: 'GONG_INVALID',
            message: 'the Gong body failed validation',
            errors: outcome.errors,
            inferredRules: outcome.inferredRules,
            ...ids,
          },
          signal,
        );
    }
  };
}
