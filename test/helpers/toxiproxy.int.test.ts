import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../src/kafka/kafka-client.ts';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, testKafka, uniqueName } from './kafka.ts';
import {
  httpUrl,
  kafkaFaultProxy,
  tcpFaultProxy,
  type FaultProxy,
  type KafkaFaultProxy,
} from './toxiproxy.ts';

/**
 * The fault harness itself: traffic really crosses the proxies, so a toxic really reaches the
 * client. Without this, a test that injects a fault into a path its client never takes would
 * pass for the wrong reason.
 */
describe('Toxiproxy fault harness', () => {
  describe('broker proxy', () => {
    const admin = testKafka().admin();
    const topic = uniqueName('toxiproxy');
    let drop: () => Promise<void> = async () => {};
    let proxy: KafkaFaultProxy;

    beforeAll(async () => {
      await admin.connect();
      drop = await createTopics(admin, [topic], 1);
      proxy = await kafkaFaultProxy();
    });

    afterAll(async () => {
      await proxy.close();
      await drop();
      await admin.disconnect();
    });

    const proxiedKafka = () =>
      kafkaClient({
        clientId: uniqueName('proxied'),
        brokers: proxy.brokers,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1_000,
        requestTimeout: 2_000,
        retry: { retries: 0 },
      });

    it('advertises the proxy, so every connection after bootstrap goes through it', async () => {
      const proxiedAdmin = proxiedKafka().admin();
      await proxiedAdmin.connect();
      try {
        const { brokers } = await proxiedAdmin.describeCluster();
        expect(brokers.map(({ host, port }) => `${host}:${port}`)).toEqual(proxy.brokers);
      } finally {
        await proxiedAdmin.disconnect();
      }
    });

    it('fails a produce while the proxy is down, and delivers it once the proxy is back', async () => {
      const producer = proxiedKafka().producer();
      await producer.connect();
      try {
        await proxy.setEnabled(false);
        await expect(producer.send({ topic, acks: -1, messages: [{ value: 'lost' }] })).rejects.toThrow();
        await proxy.setEnabled(true);
        await producer.send({ topic, acks: -1, messages: [{ value: 'kept' }] });
      } finally {
        await proxy.setEnabled(true);
        await producer.disconnect();
      }
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets[0]?.high).toBe('1');
    });
  });

  describe('a proxy in front of an HTTP server', () => {
    let server: Server;
    let proxy: FaultProxy;

    beforeAll(async () => {
      server = createServer((_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      proxy = await tcpFaultProxy(`127.0.0.1:${port}`);
    });

    afterEach(async () => {
      await proxy.clearToxics();
    });

    afterAll(async () => {
      await proxy.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('listens on a port of its own and forwards', async () => {
      expect(proxy.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(proxy.address.endsWith(':0')).toBe(false);
      const response = await request(httpUrl(proxy), { reset: true });
      expect(await response.body.text()).toBe('ok');
    });

    it('resets a connection mid-response with a downstream reset_peer', async () => {
      await proxy.addToxic({ type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
      await expect(request(httpUrl(proxy), { reset: true })).rejects.toMatchObject({
        code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/),
      });
    });
  });
});
