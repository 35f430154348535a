import { describe, expect, it } from 'vitest';
import { RejectionBreaker, rejectionKey } from '../../src/delivery/rejection-breaker.ts';

describe('rejection breaker', () => {
  const same = rejectionKey(400, ['content.contentTitle: required']);

  it('trips on the threshold-th different event rejected with the same errors', () => {
    const breaker = new RejectionBreaker(3);
    expect(breaker.observe(same, 'a')).toBe(false);
    expect(breaker.observe(same, 'b')).toBe(false);
    expect(breaker.observe(same, 'c')).toBe(true);
  });

  it('counts an event once, however often it is rejected (a record fetched again)', () => {
    const breaker = new RejectionBreaker(2);
    expect(breaker.observe(same, 'a')).toBe(false);
    expect(breaker.observe(same, 'a')).toBe(false);
    expect(breaker.observe(same, 'b')).toBe(true);
  });

  it('a delivery in between starts the count over', () => {
    const breaker = new RejectionBreaker(2);
    breaker.observe(same, 'a');
    breaker.reset();
    expect(breaker.observe(same, 'b')).toBe(false);
  });

  it('counts each error on its own, so two alternating errors still trip it', () => {
    const breaker = new RejectionBreaker(2);
    const other = rejectionKey(400, ['timestamp: in the future']);
    expect(breaker.observe(same, 'a')).toBe(false);
    expect(breaker.observe(other, 'b')).toBe(false);
    expect(breaker.observe(same, 'c')).toBe(true);
  });

  it('is off at 0', () => {
    const breaker = new RejectionBreaker(0);
    for (let n = 0; n < 1_000; n++) expect(breaker.observe(same, String(n))).toBe(false);
  });

  it('keeps a bounded number of different errors when every rejection differs', () => {
    const breaker = new RejectionBreaker(2);
    for (let n = 0; n < 500; n++)
      breaker.observe(rejectionKey(400, [`error kind ${'x'.repeat(n)}`]), String(n));
    // The oldest errors were forgotten; the latest one still counts.
    const latest = rejectionKey(400, [`error kind ${'x'.repeat(499)}`]);
    expect(breaker.observe(latest, 'again')).toBe(true);
  });

  it('one key per status and errors, with digits folded', () => {
    expect(rejectionKey(400, ['value 17 is out of range'])).toBe(
      rejectionKey(400, ['value 2 is out of range']),
    );
    expect(rejectionKey(400, ['x'])).not.toBe(rejectionKey(422, ['x']));
    expect(rejectionKey(400, ['a', 'b'])).not.toBe(rejectionKey(400, ['a']));
    expect(rejectionKey(400, undefined)).toBe('400 ');
  });
});
