import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { ErrorCode } from '../errors.ts';
import type { SourceRecord } from '../kafka/dlq.ts';
import { schemaPath } from '../schemas/registry-files.ts';

/**
 * A receipt says what the bridge did with one source record, for the upstream teams that need
 * to reconcile ("did event X reach Gong?"), as Confluent's HTTP sink reports each result to a
 * topic of its own. Pure: building, keying and framing; the writer (writer.ts) produces them.
 *
 * Ids, codes and times only. A receipt never carries the body, the person (email, names, phone)
 * or Gong's error texts (they may quote the body): reconciliation needs none of them, and a
 * receipts topic is read by more teams than the dead-letter topic.
 */

export const receiptSchemaFile = 'receipt.v1.avsc';

/** The receipt schema as registered: schemas/receipt.v1.avsc. */
export function receiptSchema(): avro.Schema {
  return JSON.parse(readFileSync(schemaPath(receiptSchemaFile), 'utf8')) as avro.Schema;
}

let type: avro.Type | undefined;

export function receiptType(): avro.Type {
  type ??= avro.Type.forSchema(receiptSchema());
  return type;
}

export type ReceiptOutcome = 'delivered' | 'duplicate' | 'dead-lettered';

const outcomeSymbols: Readonly<Record<ReceiptOutcome, string>> = {
  delivered: 'DELIVERED',
  duplicate: 'DUPLICATE',
  'dead-lettered': 'DEAD_LETTERED',
};

/** How one record settled, as the runtime knows it when it settles. */
export interface Settlement {
  readonly outcome: ReceiptOutcome;
  readonly eventId?: string | undefined;
  /** Gong's status for the call that settled it; absent when Gong was not called. */
  readonly status?: number | undefined;
  readonly requestId?: string | undefined;
  readonly attempts: number;
  /** Dead-lettered: the reason it was dead-lettered for (not DEAD_LETTER_TOO_LARGE). */
  readonly reason?: ErrorCode | undefined;
  /** Dead-lettered: a reference letter stands in for a dead letter too large for the topic. */
  readonly referenceLetter?: boolean | undefined;
  readonly schemaId?: number | undefined;
}

export interface SettlementTimes {
  /** Epoch ms: when this process started working on the record. */
  readonly firstAttemptAt: number;
  /** Epoch ms: when the outcome was known. */
  readonly settledAt: number;
}

/** The receipt as written (field names of schemas/receipt.v1.avsc). */
export interface Receipt {
  readonly eventId: string | null;
  readonly outcome: string;
  readonly deadLetterReason: string | null;
  readonly deadLetterTopic: string | null;
  readonly referenceLetter: boolean;
  readonly httpStatus: number | null;
  readonly requestId: string | null;
  readonly attempts: number;
  readonly firstAttemptAt: number;
  readonly settledAt: number;
  readonly source: {
    readonly topic: string;
    readonly partition: number;
    readonly offset: number;
    readonly timestamp: number | null;
  };
  readonly schemaId: number | null;
  readonly bridgeVersion: string;
}

/**
 * Longest eventId a receipt carries (UTF-8 bytes). Receipts stay small whatever a producer sends,
 * so they always fit the topic; an eventId longer than this is not an id anyone looks up.
 */
export const receiptIdMaxBytes = 1_024;
/** Longest requestId kept; Gong's are UUIDs. */
const requestIdMaxBytes = 256;

const bounded = (text: string | undefined, maxBytes: number): string | null =>
  text === undefined || text === '' || Buffer.byteLength(text) > maxBytes ? null : text;

export interface ReceiptContext {
  readonly bridgeVersion: string;
  /** The dead-letter topic, named in receipts of dead-lettered records. */
  readonly deadLetterTopic: string;
}

export function buildReceipt(
  record: Pick<SourceRecord, 'topic' | 'partition' | 'offset' | 'timestamp'>,
  settlement: Settlement,
  times: SettlementTimes,
  context: ReceiptContext,
): Receipt {
  const deadLettered = settlement.outcome === 'dead-lettered';
  const sourceTimestamp = Number(record.timestamp);
  return {
    eventId: bounded(settlement.eventId, receiptIdMaxBytes),
    outcome: outcomeSymbols[settlement.outcome],
    deadLetterReason: deadLettered ? (settlement.reason ?? null) : null,
    deadLetterTopic: deadLettered ? context.deadLetterTopic : null,
    referenceLetter: deadLettered && settlement.referenceLetter === true,
    httpStatus: settlement.status ?? null,
    requestId: bounded(settlement.requestId, requestIdMaxBytes),
    attempts: settlement.attempts,
    firstAttemptAt: Math.round(times.firstAttemptAt),
    settledAt: Math.round(times.settledAt),
    source: {
      topic: record.topic,
      partition: record.partition,
      offset: Number(record.offset),
      timestamp: Number.isFinite(sourceTimestamp) && record.timestamp !== '' ? sourceTimestamp : null,
    },
    schemaId: settlement.schemaId ?? null,
    bridgeVersion: context.bridgeVersion,
  };
}

/** Where a record without an eventId is keyed: its source coordinates. */
export function sourceKey(source: { topic: string; partition: number; offset: number | string }): string {
  return `${source.topic}/${source.partition}/${source.offset}`;
}

/**
 * The record key: the eventId, so every receipt of an event lands in one partition, in order
 * (and a compacted copy keeps the latest per event); the source coordinates without one.
 */
export function receiptKey(receipt: Receipt): string {
  return receipt.eventId ?? sourceKey(receipt.source);
}

/** Where receipts are encoded before they are copied out: one allocation per receipt. */
let scratch = Buffer.alloc(4_096);

/** Confluent wire format: magic byte 0, the schema id (4 bytes, big-endian), the Avro body. */
export function encodeReceipt(
  receipt: Receipt,
  schemaId: number,
  avroType: avro.Type = receiptType(),
): Buffer {
  for (;;) {
    // avsc answers a negative position when the buffer is too small: grow it and go again.
    const end = avroType.encode(receipt, scratch, 5);
    if (end > 0) {
      scratch[0] = 0;
      scratch.writeInt32BE(schemaId, 1);
      return Buffer.from(scratch.subarray(0, end));
    }
    scratch = Buffer.alloc(scratch.length * 2);
  }
}

/** The outcome in the words the rest of the bridge uses (delivered, duplicate, dead-lettered). */
export function outcomeOf(symbol: string): ReceiptOutcome | undefined {
  for (const [outcome, written] of Object.entries(outcomeSymbols))
    if (written === symbol) return outcome as ReceiptOutcome;
  return undefined;
}
