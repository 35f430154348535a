/**
 * What a failed produce means, as one table (the same shape as delivery/outcome-policy.ts). A
 * change to how an error is treated is a change to one row here, and the unit test walks the
 * same table.
 *
 *  - retry: the write may succeed if sent again (a leader moved, replicas lag, the connection or
 *    the request timed out). Nothing is known about whether the broker stored it, so the same
 *    messages are sent again; at worst a duplicate is stored.
 *  - too-large: the broker refused the batch for its size (the topic's max.message.bytes, or the
 *    segment size). A batch of several messages is split; a single message that is too large can
 *    never be written and is handed back to the caller (the DLQ writer turns it into a reference
 *    letter).
 *  - halt: the topic refuses every write: authorization, a topic that is missing or was deleted,
 *    a configuration the broker rejects. Retrying the same request cannot help and skipping it
 *    would lose it, so the producer stops, reports the halt (the runtime pauses and turns
 *    unready) and probes until a write succeeds.
 *
 * kafkajs reports broker errors by `type` (KafkaJSProtocolError) and its own by `name`, and wraps
 * both (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError) with the original in `cause`.
 */
export type ProduceFailureClass = 'retry' | 'too-large' | 'halt';

export interface ProducerErrorRule {
  /** A broker error type (KafkaJSProtocolError.type) or a kafkajs error name. */
  readonly match: string;
  readonly outcome: ProduceFailureClass;
  readonly why: string;
}

export const producerErrorRules: readonly ProducerErrorRule[] = [
  // Size: never retried as is.
  { match: 'MESSAGE_TOO_LARGE', outcome: 'too-large', why: "Batch over the topic's max.message.bytes." },
  { match: 'RECORD_LIST_TOO_LARGE', outcome: 'too-large', why: 'Batch over the log segment size.' },

  // The topic refuses every write.
  {
    match: 'TOPIC_AUTHORIZATION_FAILED',
    outcome: 'halt',
    why: 'An ACL denies this principal Write on the topic.',
  },
  {
    match: 'CLUSTER_AUTHORIZATION_FAILED',
    outcome: 'halt',
    why: 'An ACL denies this principal a cluster operation the producer needs.',
  },
  {
    match: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
    outcome: 'halt',
    why: 'An ACL denies this principal its transactional id.',
  },
  { match: 'SASL_AUTHENTICATION_FAILED', outcome: 'halt', why: 'The broker refused the SASL credentials.' },
  {
    match: 'KafkaJSSASLAuthenticationError',
    outcome: 'halt',
    why: 'The broker refused the SASL credentials.',
  },
  // kafkajs marks it retriable because it is transient right after a topic is created; it has
  // retried it with fresh metadata by the time it reaches us, so the topic is missing or deleted.
  {
    match: 'UNKNOWN_TOPIC_OR_PARTITION',
    outcome: 'halt',
    why: 'The topic does not exist (never created, or deleted).',
  },
  {
    match: 'KafkaJSMetadataNotLoaded',
    outcome: 'halt',
    why: 'The brokers list no partition for the topic: it does not exist.',
  },
  {
    match: 'KafkaJSTopicMetadataNotLoaded',
    outcome: 'halt',
    why: 'The brokers list no partition for the topic: it does not exist.',
  },
  { match: 'INVALID_TOPIC_EXCEPTION', outcome: 'halt', why: 'The topic name is not valid.' },
  {
    match: 'KafkaJSNotImplemented',
    outcome: 'halt',
    why: 'kafkajs cannot do what is asked (a compression codec it lacks).',
  },
  {
    match: 'INVALID_RECORD',
    outcome: 'halt',
    why: 'The topic validates records in a way ours fail (a compacted topic refuses records without a key).',
  },
  {
    match: 'INVALID_TIMESTAMP',
    outcome: 'halt',
    why: "The topic's message.timestamp.*.max.ms refuses the record's timestamp.",
  },
  { match: 'POLICY_VIOLATION', outcome: 'halt', why: 'A broker policy refuses the write.' },
  {
    match: 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
    outcome: 'halt',
    why: "The topic's message format cannot hold these records.",
  },
  {
    match: 'UNSUPPORTED_COMPRESSION_TYPE',
    outcome: 'halt',
    why: 'The topic does not accept the compression used.',
  },
  { match: 'INVALID_REQUIRED_ACKS', outcome: 'halt', why: 'The broker refuses acks=all.' },
  {
    match: 'UNSUPPORTED_VERSION',
    outcome: 'halt',
    why: 'The broker does not speak the produce request version.',
  },

  // Transient: leaders move, replicas catch up, connections drop.
  { match: 'NOT_LEADER_FOR_PARTITION', outcome: 'retry', why: 'The leader moved; metadata is refreshed.' },
  { match: 'LEADER_NOT_AVAILABLE', outcome: 'retry', why: 'A leader election is in progress.' },
  { match: 'FENCED_LEADER_EPOCH', outcome: 'retry', why: 'The leader moved; metadata is refreshed.' },
  { match: 'UNKNOWN_LEADER_EPOCH', outcome: 'retry', why: 'The leader moved; metadata is refreshed.' },
  {
    match: 'NOT_ENOUGH_REPLICAS',
    outcome: 'retry',
    why: 'Fewer in-sync replicas than min.insync.replicas.',
  },
  {
    match: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
    outcome: 'retry',
    why: 'Stored by the leader, but replicas dropped out before acks=all was met.',
  },
  { match: 'REQUEST_TIMED_OUT', outcome: 'retry', why: 'Replication did not complete within the timeout.' },
  { match: 'NETWORK_EXCEPTION', outcome: 'retry', why: 'The broker lost a connection it needed.' },
  { match: 'KAFKA_STORAGE_ERROR', outcome: 'retry', why: 'A log directory failed; the leader moves.' },
  { match: 'CORRUPT_MESSAGE', outcome: 'retry', why: 'The request was damaged in transit.' },
  { match: 'BROKER_NOT_AVAILABLE', outcome: 'retry', why: 'The broker is restarting.' },
  { match: 'REPLICA_NOT_AVAILABLE', outcome: 'retry', why: 'A replica is restarting.' },
  { match: 'KafkaJSConnectionError', outcome: 'retry', why: 'The connection failed.' },
  {
    match: 'KafkaJSConnectionClosedError',
    outcome: 'retry',
    why: 'The connection closed under the request.',
  },
  {
    match: 'KafkaJSRequestTimeoutError',
    outcome: 'retry',
    why: 'No answer within the request timeout; the write may or may not be stored.',
  },
  { match: 'KafkaJSBrokerNotFound', outcome: 'retry', why: 'Metadata named no live broker yet.' },
  { match: 'KafkaJSLockTimeout', outcome: 'retry', why: 'A kafkajs internal lock timed out.' },
  { match: 'KafkaJSNoBrokerAvailableError', outcome: 'retry', why: 'No broker answered.' },
  { match: 'KafkaJSTimeout', outcome: 'retry', why: 'A kafkajs internal wait timed out.' },
];

export interface ProduceFailure {
  readonly outcome: ProduceFailureClass;
  /** The type or name that matched, or the most specific one seen when nothing matched. */
  readonly matched: string;
  /** True when no row matched: treated by kafkajs' own retriable flag and logged loudly. */
  readonly unknown?: boolean;
}

/** kafkajs hides the broker's answer under wrappers; walk to it. */
function errorChain(error: unknown): { type?: string; name?: string; retriable?: boolean }[] {
  const out: { type?: string; name?: string; retriable?: boolean }[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    out.push(current as { type?: string; name?: string; retriable?: boolean });
    const next = current as { cause?: unknown; originalError?: unknown };
    const inner = next.cause ?? next.originalError;
    if (inner === current) break;
    current = inner;
  }
  return out;
}

const rulesByMatch = new Map(producerErrorRules.map((rule) => [rule.match, rule]));

export function classifyProduceError(error: unknown): ProduceFailure {
  const chain = errorChain(error);
  // The innermost answer is the most specific: a KafkaJSNumberOfRetriesExceeded says only that
  // kafkajs gave up, its cause says why.
  for (const link of [...chain].reverse()) {
    for (const key of [link.type, link.name]) {
      const rule = key === undefined ? undefined : rulesByMatch.get(key);
      if (rule !== undefined) return { outcome: rule.outcome, matched: rule.match };
    }
  }
  // Not in the table: kafkajs' own flag on the innermost error decides. A broker answer it
  // calls non-retriable would fail the same way forever, so it halts rather than spins.
  const innermost = chain.at(-1) ?? {};
  const matched = innermost.type ?? innermost.name ?? 'unknown';
  const outcome: ProduceFailureClass =
    innermost.type !== undefined && innermost.retriable === false ? 'halt' : 'retry';
  return { outcome, matched, unknown: true };
}
