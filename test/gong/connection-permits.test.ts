import { describe, expect, it } from 'vitest';
import { ConnectionPermits } from '../../src/gong/connection-permits.ts';

describe('connection permits', () => {
  it('hands out as many as the pool has, then the next in arrival order as each comes back', async () => {
    const permits = new ConnectionPermits(2);
    const a = await permits.acquire();
    const b = await permits.acquire();
    const order: string[] = [];
    const c = permits.acquire().then((permit) => (order.push('c'), permit));
    const d = permits.acquire().then((permit) => (order.push('d'), permit));
    expect(permits.waiting).toBe(2);
    a.release();
    a.release(); // a second release is ignored: it must not free a second connection
    await c;
    expect(order).toEqual(['c']);
    expect(permits.inUse).toBe(2);
    b.release();
    await d;
    expect(order).toEqual(['c', 'd']);
    (await c).release();
    (await d).release();
    expect(permits.inUse).toBe(0);
  });

  it('an aborted waiter leaves the line and gets its signal’s reason', async () => {
    const permits = new ConnectionPermits(1);
    const held = await permits.acquire();
    const controller = new AbortController();
    const waiting = permits.acquire(controller.signal);
    const next = permits.acquire();
    controller.abort(new Error('revoked'));
    await expect(waiting).rejects.toThrow('revoked');
    held.release();
    await expect(next).resolves.toBeDefined();
    await expect(permits.acquire(AbortSignal.abort(new Error('early')))).rejects.toThrow('early');
  });

  it('close refuses new callers and rejects the waiting ones with SHUTTING_DOWN', async () => {
    const permits = new ConnectionPermits(1);
    await permits.acquire();
    const waiting = permits.acquire();
    permits.close();
    await expect(waiting).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(permits.acquire()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('refuses a pool without connections', () => {
    expect(() => new ConnectionPermits(0)).toThrow(/GONG_MAX_CONNECTIONS|whole number/);
  });
});
