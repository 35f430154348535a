import { describe, expect, it } from 'vitest';
import { CommitScheduler } from '../../src/kafka/commit-scheduler.ts';

/** A hand-driven timer: `advance(ms)` runs what fell due. */
function manualTimers() {
  let now = 0;
  const timers = new Set<{ at: number; run: () => void }>();
  return {
    schedule(run: () => void, ms: number) {
      const timer = { at: now + ms, run };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
    armed: () => timers.size,
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at)) {
        if (timer.at > now) continue;
        timers.delete(timer);
        timer.run();
      }
    },
  };
}

/** A commit the test completes, answering acknowledged or not. */
function controlledCommits() {
  const waiting: ((acknowledged: boolean) => void)[] = [];
  let started = 0;
  return {
    commit: () =>
      new Promise<boolean>((resolve) => {
        started += 1;
        waiting.push(resolve);
      }),
    started: () => started,
    finish: async (acknowledged = true) => {
      waiting.shift()!(acknowledged);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('CommitScheduler', () => {
  it('commits as soon as maxPending records settled', async () => {
    const timers = manualTimers();
    const commits = controlledCommits();
    const scheduler = new CommitScheduler({ maxPending: 3, intervalMs: 1_000, ...commits, ...timers });
    scheduler.settled(2);
    expect(commits.started()).toBe(0);
    scheduler.settled(1);
    expect(commits.started()).toBe(1);
    await commits.finish();
    expect(scheduler.pending).toBe(0);
    expect(timers.armed()).toBe(0);
  });

  it('commits intervalMs after the first settled record when fewer settle', async () => {
    const timers = manualTimers();
    const commits = controlledCommits();
    const scheduler = new CommitScheduler({ maxPending: 100, intervalMs: 1_000, ...commits, ...timers });
    scheduler.settled(1);
    timers.advance(600);
    scheduler.settled(1);
    timers.advance(399);
    expect(commits.started()).toBe(0);
    // Counted from the first record, not the last.
    timers.advance(1);
    expect(commits.started()).toBe(1);
    await commits.finish();
  });

  it('runs one commit at a time and coalesces what settles meanwhile into the next', async () => {
    const timers = manualTimers();
    const commits = controlledCommits();
    const scheduler = new CommitScheduler({ maxPending: 2, intervalMs: 1_000, ...commits, ...timers });
    scheduler.settled(2);
    scheduler.settled(2);
    scheduler.settled(2);
    expect(commits.started()).toBe(1);
    await commits.finish();
    // Four settled during the first commit: one more commit, not two.
    expect(commits.started()).toBe(2);
    await commits.finish();
    expect(commits.started()).toBe(2);
  });

  it('tries a failed commit again after intervalMs, not in a loop', async () => {
    const timers = manualTimers();
    const commits = controlledCommits();
    const scheduler = new CommitScheduler({ maxPending: 1, intervalMs: 1_000, ...commits, ...timers });
    scheduler.settled(1);
    await commits.finish(false);
    expect(commits.started()).toBe(1);
    timers.advance(999);
    expect(commits.started()).toBe(1);
    timers.advance(1);
    expect(commits.started()).toBe(2);
    await commits.finish(true);
    expect(timers.armed()).toBe(0);
  });

  it('flush commits now and resolves once the commit is done; stop ends the timers', async () => {
    const timers = manualTimers();
    const commits = controlledCommits();
    const scheduler = new CommitScheduler({ maxPending: 10, intervalMs: 1_000, ...commits, ...timers });
    scheduler.settled(1);
    let flushed = false;
    const flushing = scheduler.flush().then(() => (flushed = true));
    expect(commits.started()).toBe(1);
    await settle();
    expect(flushed).toBe(false);
    await commits.finish();
    await flushing;
    scheduler.stop();
    scheduler.settled(50);
    expect(timers.armed()).toBe(0);
    expect(commits.started()).toBe(1);
  });
});
