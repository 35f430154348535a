import { randomUUID } from 'node:crypto';
import {
  Toxiproxy,
  type Proxy,
  type Toxic,
  type ToxicDirection,
  type ToxicType,
} from 'toxiproxy-node-client';
import { inject } from 'vitest';

/**
 * Network faults for the integration tier, through Shopify's Toxiproxy (started by the local
 * stack, or by testcontainers). Two kinds of proxy:
 *  - `kafkaFaultProxy()`: the stack's one `kafka` proxy, in front of a broker listener that
 *    advertises the proxy's address, so a client bootstrapped with `brokers` keeps every later
 *    connection (produce, fetch, group coordinator) on the proxy too. Kafka's advertised address
 *    is fixed when the broker starts, so this proxy is shared: its toxics are cleared when a test
 *    takes it and when it lets go.
 *  - `tcpFaultProxy(upstream)`: a proxy of the test's own on a free port, e.g. in front of the
 *    Gong sandbox.
 *
 * Toxics (https://github.com/Shopify/toxiproxy#toxics) act per direction: `upstream` is what the
 * client sends, `downstream` what comes back. A reply that is forwarded and then lost is a
 * downstream `timeout` or `reset_peer`; `toxicity` applies a toxic to that fraction of
 * connections.
 */

export interface ToxicSpec<T> {
  readonly type: ToxicType;
  readonly attributes: T;
  readonly stream?: ToxicDirection;
  readonly toxicity?: number;
  readonly name?: string;
}

export interface FaultProxy {
  readonly proxy: Proxy;
  /** host:port clients connect to. */
  readonly address: string;
  addToxic<T>(spec: ToxicSpec<T>): Promise<Toxic<T>>;
  /** Removes every toxic; the proxy keeps forwarding. */
  clearToxics(): Promise<void>;
  /** Refuses new connections and drops open ones (false), or lets them through again (true). */
  setEnabled(enabled: boolean): Promise<void>;
  /** Clears toxics and gives the proxy back (a test's own proxy is deleted). */
  close(): Promise<void>;
}

export interface KafkaFaultProxy extends FaultProxy {
  /** Bootstrap brokers that route every connection through the proxy. */
  readonly brokers: string[];
}

/** Toxiproxy's API client, or a clear error when the run has no Toxiproxy. */
export function toxiproxyClient(): Toxiproxy {
  const url = inject('services').toxiproxyUrl;
  if (url === undefined) {
    throw new Error(
      'this test needs Toxiproxy: run it on the local stack (scripts/stack/stack.sh up starts it), ' +
        'or set TOXIPROXY_URL and KAFKA_PROXIED_BROKERS next to KAFKA_BROKERS',
    );
  }
  return new Toxiproxy(url);
}

export async function kafkaFaultProxy(): Promise<KafkaFaultProxy> {
  const brokers = inject('services').kafkaProxiedBrokers;
  if (brokers === undefined || brokers.length === 0) {
    throw new Error('this test needs the proxied broker listener: KAFKA_PROXIED_BROKERS is not set');
  }
  const proxy = await toxiproxyClient().get('kafka');
  const handle = wrap(proxy, async () => {});
  await handle.clearToxics();
  await handle.setEnabled(true);
  return { ...handle, brokers };
}

/** A proxy of the caller's own on a free local port in front of `upstream` (host:port). */
export async function tcpFaultProxy(
  upstream: string,
  name = `test-${randomUUID().slice(0, 8)}`,
): Promise<FaultProxy> {
  const proxy = await toxiproxyClient().createProxy({ name, listen: '127.0.0.1:0', upstream });
  return wrap(proxy, () => proxy.remove());
}

/** `http://host:port` of a proxy, for an HTTP upstream such as the Gong sandbox. */
export function httpUrl(proxy: FaultProxy): string {
  return `http://${proxy.address}`;
}

function wrap(proxy: Proxy, release: () => Promise<void>): FaultProxy {
  let current = proxy;
  const clearToxics = async () => {
    // The client's Proxy does not keep the toxic list, so it is read from the API itself.
    const response = await fetch(`${current.getPath()}/toxics`);
    if (!response.ok)
      throw new Error(`toxiproxy: listing toxics of ${current.name} answered ${response.status}`);
    const toxics = (await response.json()) as { name: string }[];
    for (const { name } of toxics) {
      const removed = await fetch(`${current.getPath()}/toxics/${encodeURIComponent(name)}`, {
        method: 'DELETE',
      });
      if (!removed.ok && removed.status !== 404) {
        throw new Error(`toxiproxy: removing toxic ${name} answered ${removed.status}`);
      }
    }
  };
  return {
    get proxy() {
      return current;
    },
    address: proxy.listen,
    addToxic: <T>(spec: ToxicSpec<T>) =>
      current.addToxic<T>({
        name: spec.name ?? `${spec.type}-${spec.stream ?? 'downstream'}-${randomUUID().slice(0, 6)}`,
        type: spec.type,
        stream: spec.stream ?? 'downstream',
        toxicity: spec.toxicity ?? 1,
        attributes: spec.attributes,
      }),
    clearToxics,
    async setEnabled(enabled) {
      current = await current.update({ enabled, listen: current.listen, upstream: current.upstream });
    },
    async close() {
      await clearToxics().catch(() => {});
      await this.setEnabled(true).catch(() => {});
      await release();
    },
  };
}
