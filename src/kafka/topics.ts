import type { Admin } from 'kafkajs';
import type { BridgeError } from '../errors.ts';

/**
 * Creates a topic the bridge writes to (the dead-letter topic, the receipts topic) when it is
 * missing, with the broker's default partition count and replication and the given settings.
 * True when this call created it. An existing topic is left as it is: its settings belong to
 * whoever created it. `failure` words a refusal for the topic's purpose.
 */
export async function ensureTopic(
  admin: Pick<Admin, 'listTopics' | 'createTopics'>,
  topic: string,
  configEntries: readonly { name: string; value: string }[],
  failure: (cause: unknown) => BridgeError,
): Promise<boolean> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  try {
    return await admin.createTopics({
      topics: [{ topic, configEntries: [...configEntries] }],
      waitForLeaders: true,
    });
  } catch (error) {
    // Another replica may have created it between our list and create.
    if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return false;
    // Created, but a busy broker had not yet published its leaders when kafkajs stopped waiting
    // (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE): the producer's own retries wait for them.
    if ((error as { retriable?: boolean }).retriable === true && (await topicExists(admin, topic)))
      return true;
    throw failure(error);
  }
}

async function topicExists(admin: Pick<Admin, 'listTopics'>, topic: string): Promise<boolean> {
  return (await admin.listTopics().catch(() => [] as string[])).includes(topic);
}
