import { getEventListeners } from 'node:events';
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

  it('the waiters of one signal (a partition’s records) share one abort listener, and its abort takes only them', async () => {
    const permits = new ConnectionPermits(1);
    const held = await permits.acquire();
    const partition = new AbortController();
    const other = new AbortController();
    const mine = Array.from({ length: 10 }, () => permits.acquire(partition.signal));
    const theirs = permits.acquire(other.signal);
    const settled = mine.map((pending) =>
      pending.then(
        () => 'served',
        (error: Error) => error.message,
      ),
    );
    expect(getEventListeners(partition.signal, 'abort')).toHaveLength(1);
    // The first in line is served before the abort; the other nine leave the line with the reason.
    held.release();
    const first = await mine[0]!;
    partition.abort(new Error('revoked'));
    expect(await Promise.all(settled)).toEqual(['served', ...Array<string>(9).fill('revoked')]);
    expect(permits.waiting).toBe(1);
    first.release();
    await expect(theirs).resolves.toBeDefined();
    expect(permits.inUse).toBe(1);
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
