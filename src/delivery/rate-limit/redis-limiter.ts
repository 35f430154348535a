import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { BridgeError } from '../../errors.ts';
import type { Clock, Sleep } from '../../shared/time.ts';
import type { CallSlot, LimiterEventMap, LimiterSnapshot, ObservableRateLimiter } from '../limiter-types.ts';
import type { DailyWindow, Instant } from './daily-budget.ts';
import { FifoGate } from './fifo-gate.ts';
import {
  commit,
  decide,
  LimiterCore,
  projectExhaustion,
  refund,
  settle,
  snapshotOf,
  wire,
  type Decision,
  type Grant,
} from './limiter-core.ts';
import { coreSlot, normaliseRetryAfter } from './local-limiter.ts';
import { ROLLING_SECOND_MS, windowPolicy, type WindowPolicy } from './per-second-window.ts';
import { LIMITER_SCRIPT, parseScriptReply, type ScriptReply } from './redis-script.ts';
import { trackedSlot } from './tracked-slot.ts';
import { TypedEmitter } from '../../shared/typed-emitter.ts';
import { WindowMargin } from './window-margin.ts';

/**
 * A call that left within this many ms of its grant keeps its grant time in Redis (no `wire`
 * round trip); it is held with this much more than the margin until its answer settles it.
 */
const REDIS_RESTAMP_MIN_MS = 5;
/** Refunds that could not reach Redis, kept for when it is back; past this many, the oldest go. */
const MAX_PENDING_REFUNDS = 10_000;

/** A refund Redis has not heard of yet: the member (or '' for a debited fallback call) and when. */
interface PendingRefund {
  readonly member: string;
  readonly serverTime: number;
}

/** pino's shape, so the real logger can be passed as it is. */
export interface LimiterLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RedisLimiterOptions {
  readonly redisUrl: string;
  /** Keys are `{<prefix>}:limiter:*`; the hash tag keeps them in one slot on a Redis Cluster. */
  readonly keyPrefix: string;
  /** For the whole account, across all replicas. */
  readonly ratePerSecond: number;
  readonly burst?: number | undefined;
  readonly dailyLimit: number;
  readonly dailyWindow: DailyWindow;
  readonly windowMarginMs?: number | undefined;
  /** While Redis is unreachable each replica runs locally at rate / replicas and daily / replicas. */
  readonly expectedReplicas: number;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly logger?: LimiterLogger | undefined;
  /** TCP connect timeout; short, so a dead Redis costs calls a moment, not a stall. Default 500. */
  readonly connectTimeoutMs?: number | undefined;
  /** A script call slower than this counts as Redis being unreachable. Default 500. */
  readonly commandTimeoutMs?: number | undefined;
  /** How often a replica in fallback checks whether Redis is back. Default 1000. */
  readonly probeIntervalMs?: number | undefined;
}

interface AcquireCommand {
  gongLimiter(log: string, state: string, minutes: string, ...args: (string | number)[]): Promise<unknown>;
}

type ScriptOp = 'acquire' | 'pause' | 'debit' | 'wire' | 'settle' | 'refund';

/**
 * The cluster-wide limiter: every replica asks one atomic Lua script (see redis-script.ts), so
 * the per-second and daily budgets and a 429 pause hold across all of them.
 *
 * When Redis cannot be reached the replica falls back to a local limiter at its share of the
 * budget (mode 'local-fallback', event 'fallback'), and returns to Redis when a probe succeeds
 * (event 'recovered'). Two hand-overs keep the account under its limits while that happens:
 * - entering fallback, local starts are held for one window, because the cluster may have spent
 *   the whole last second through Redis just before it went away;
 * - after recovery the local share stays enforced as well for one window plus one probe interval,
 *   by which time every replica has seen Redis again, so no rolling second mixes calls Redis
 *   never saw with calls it counted as if they were all there were.
 * Calls made in fallback are added to the shared daily count on recovery.
 *
 * A grant whose call never went on the wire is handed back in Redis (op 'refund'); one that
 * could not reach Redis is kept and sent once Redis answers again.
 */
export class RedisLimiter implements ObservableRateLimiter {
  readonly #options: RedisLimiterOptions;
  readonly #policy: WindowPolicy;
  readonly #client: Redis;
  readonly #keys: readonly [string, string, string];
  readonly #clientId = randomUUID();
  readonly #gate: FifoGate;
  readonly #events = new TypedEmitter<LimiterEventMap>();
  readonly #closing = new AbortController();
  readonly #probeIntervalMs: number;
  // This replica's round trips, shared by its Redis slots and its fallback core.
  readonly #margin: WindowMargin;
  #pendingRefunds: PendingRefund[] = [];
  #flushingRefunds = false;
  #lastDebitServerTime: number | null = null;
  #sequence = 0;
  #mode: 'redis' | 'local-fallback' = 'redis';
  #connectedOnce = false;
  #fallback: LimiterCore | null = null;
  #fallbackSince = 0;
  #fallbackStarts = 0;
  #dualUntil = Number.NEGATIVE_INFINITY;
  #throttledUntil = Number.NEGATIVE_INFINITY;
  #last: { reply: ScriptReply; at: Instant } | null = null;
  #grantServerTime: number | null = null;
  #grantedAt = 0;
  #exhaustedReported = false;

  constructor(options: RedisLimiterOptions) {
    this.#options = options;
    this.#policy = windowPolicy(options);
    // Every start in the shared log keeps the whole margin (floor = cap). A margin sized from this
    // replica's round trips bounds only how much longer than *its* fastest calls a call spent on the
    // way; a later call from another replica (another process, another event loop, maybe another
    // node) can be faster than that. With per-call margins two replicas sharing 10/s drew a 429
    // in 2 of 3 runs of the stalling-Gong scenario (test/chaos/slow-gong-pool.int.test.ts).
    this.#margin = new WindowMargin({ capMs: this.#policy.marginMs, floorMs: this.#policy.marginMs });
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    const prefix = `{${options.keyPrefix}}:limiter`;
    this.#keys = [`${prefix}:log`, `${prefix}:state`, `${prefix}:minutes`];
    this.#client = new Redis(options.redisUrl, {
      connectTimeout: options.connectTimeoutMs ?? 500,
      commandTimeout: options.commandTimeoutMs ?? 500,
      // Fail at once while disconnected instead of queueing: the fallback takes over meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => this.#probeIntervalMs / 2,
      lazyConnect: false,
    });
    // Connection errors surface through failed commands; without a listener ioredis would print
    // every reconnect attempt as an unhandled error.
    this.#client.on('error', () => undefined);
    this.#client.defineCommand('gongLimiter', { numberOfKeys: 3, lua: LIMITER_SCRIPT });
    this.#gate = new FifoGate({
      attempt: () => this.#attempt(),
      sleep: options.sleep,
      now: () => options.clock.now(),
      onWait: (decision) => this.#events.emit('wait', { waitMs: decision.waitMs, reason: decision.reason }),
      onGrant: (waiter) =>
        this.#events.emit('acquired', {
          waitedMs: this.#grantedAt - waiter.enqueuedAt,
          grantedAt: this.#grantedAt,
          serverTimeMs: this.#grantServerTime,
        }),
    });
  }

  get mode(): 'redis' | 'local-fallback' {
    return this.#mode;
  }

  acquire(signal?: AbortSignal): Promise<CallSlot> {
    return this.#gate.acquire(signal);
  }

  onThrottled(retryAfterMs: number): void {
    const at = this.#at();
    const ms = normaliseRetryAfter(retryAfterMs, this.#policy.windowMs);
    // Pause here at once; Redis spreads it to the other replicas.
    this.#throttledUntil = Math.max(this.#throttledUntil, at.mono + ms);
    this.#events.emit('throttled', { retryAfterMs: ms, until: at.wall + (this.#throttledUntil - at.mono) });
    if (this.#mode === 'redis') {
      this.#run('pause', ms).catch(() => undefined);
    }
  }

  snapshot(): LimiterSnapshot {
    const at = this.#at();
    if (this.#mode === 'local-fallback' && this.#fallback !== null) {
      const local = snapshotOf(this.#fallback, at, 'local-fallback');
      return this.#withLocalPause(local, at);
    }
    const { ratePerSecond, dailyLimit } = this.#options;
    const base: LimiterSnapshot = {
      tokensAvailable: this.#policy.capacity,
      ratePerSecond,
      dailyLimit,
      dailyRemaining: dailyLimit,
      projectedExhaustionAt: null,
      pausedUntil: null,
      pauseReason: null,
      mode: 'redis',
      currentRatePerSecond: 0,
      windowMarginMs: this.#margin.averageMs(),
    };
    if (this.#last === null) return this.#withLocalPause(base, at);
    // Redis's last answer, moved onto this replica's clocks.
    const { reply, at: then } = this.#last;
    const toWall = (serverTime: number): number => then.wall + (serverTime - reply.now);
    const remaining = Math.max(0, dailyLimit - reply.used);
    const sinceReply = at.mono - then.mono;
    const pausedByCluster = reply.pausedUntil > reply.now + sinceReply;
    const releaseAt = reply.releaseAt === null ? null : toWall(reply.releaseAt);
    let pausedUntil: number | null = null;
    let pauseReason: LimiterSnapshot['pauseReason'] = null;
    if (remaining === 0) {
      pausedUntil = releaseAt;
      pauseReason = 'quota-exhausted';
    }
    if (pausedByCluster && (pausedUntil === null || toWall(reply.pausedUntil) > pausedUntil)) {
      pausedUntil = toWall(reply.pausedUntil);
      pauseReason = 'throttled';
    }
    return this.#withLocalPause(
      {
        ...base,
        // Exact when the answer is fresh; a second later the window has moved on anyway.
        tokensAvailable:
          sinceReply >= this.#policy.windowMs ? Math.min(this.#policy.capacity, remaining) : reply.available,
        dailyRemaining: remaining,
        projectedExhaustionAt: projectExhaustion(
          at,
          remaining,
          reply.ratePerSecond,
          this.#options.dailyWindow === 'utc-day' ? releaseAt : null,
        ),
        pausedUntil,
        pauseReason,
        currentRatePerSecond: reply.ratePerSecond,
      },
      at,
    );
  }

  on<K extends keyof LimiterEventMap>(event: K, listener: (payload: LimiterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The Redis keys this limiter shares with every other one of the account. */
  get sharedKeys(): readonly string[] {
    return this.#keys;
  }

  /**
   * Whether any limiter used these keys in the last two days (the state lives that long): false
   * suggests a REDIS_KEY_PREFIX other than the running service's. Null when Redis does not answer.
   */
  async sharedStateExists(): Promise<boolean | null> {
    try {
      if (!this.#connectedOnce) await this.#firstConnection();
      return (await this.#client.exists(this.#keys[1])) === 1;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#gate.close();
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  async #attempt(): Promise<Decision> {
    const at = this.#at();
    this.#grantServerTime = null;
    if (this.#throttledUntil > at.mono) {
      return { allow: false, waitMs: this.#throttledUntil - at.mono, reason: 'throttled' };
    }
    if (this.#mode === 'local-fallback') return this.#attemptLocal(at);
    const dual = this.#fallback !== null && at.mono < this.#dualUntil;
    if (this.#fallback !== null && !dual) this.#fallback = null;
    if (dual && this.#fallback !== null) {
      const local = decide(this.#fallback, at);
      if (!local.allow) return local;
    }
    let reply: ScriptReply;
    const member = this.#nextMember();
    // Held with the whole margin until its answer settles it, plus what a skipped 'wire' report
    // may leave out.
    const provisional = this.#margin.provisionalMs();
    const acquireMargin = provisional > 0 ? provisional + REDIS_RESTAMP_MIN_MS : 0;
    try {
      reply = await this.#run('acquire', 0, member, acquireMargin);
    } catch (error) {
      this.#enterFallback(error);
      return this.#attemptLocal(this.#at());
    }
    if (!reply.granted) {
      if (reply.reason === 'quota-exhausted' && !this.#exhaustedReported) {
        this.#exhaustedReported = true;
        this.#events.emit('quota-exhausted', {
          until: this.#at().wall + reply.waitMs,
          dailyLimit: this.#options.dailyLimit,
        });
      }
      return { allow: false, waitMs: reply.waitMs, reason: reply.reason };
    }
    this.#exhaustedReported = false;
    if (this.#pendingRefunds.length > 0) void this.#flushRefunds();
    const granted = this.#at();
    const shadow =
      dual && this.#fallback !== null
        ? { core: this.#fallback, grant: commit(this.#fallback, granted) }
        : null;
    this.#grantServerTime = reply.now;
    this.#grantedAt = granted.mono;
    return { allow: true, slot: this.#redisSlot(member, reply.now, granted, acquireMargin, shadow) };
  }

  /**
   * The slot of a start Redis granted. Its call leaving late moves it in Redis ('wire'); its
   * answer settles its margin ('settle'); a release without the call leaving hands it back
   * ('refund'). A fallback shadow (the hand-over after recovery) follows along.
   */
  #redisSlot(
    member: string,
    grantServerTime: number,
    granted: Instant,
    acquireMargin: number,
    shadow: { core: LimiterCore; grant: Grant } | null,
  ): CallSlot {
    const { clock } = this.#options;
    // Where the member's score stands relative to when its call left, to settle it by a delta.
    let wiredInRedis = false;
    let wireMargin = acquireMargin;
    return trackedSlot(clock, {
      wired: (now) => {
        if (shadow !== null) wire(shadow.core, shadow.grant, now);
        // Within a few ms of the grant the log already holds about the right moment, and the
        // larger provisional margin covers the rest: not worth a round trip. Failures change
        // nothing that matters: the start stays at its grant time, as it would have without it.
        if (now - granted.mono >= REDIS_RESTAMP_MIN_MS && this.#mode === 'redis') {
          wiredInRedis = true;
          wireMargin = this.#margin.provisionalMs();
          this.#run('wire', 0, member, wireMargin).catch(() => undefined);
        }
      },
      answered: (wiredAt, now) => {
        const margin = this.#margin.observe(now - wiredAt);
        if (shadow !== null) settle(shadow.core, shadow.grant, wiredAt, margin);
        // A start trimmed from the log long ago needs no settling.
        if (now - wiredAt >= this.#policy.windowMs || this.#mode !== 'redis') return;
        const target = margin + (wiredInRedis ? 0 : wiredAt - granted.mono);
        const delta = target - (wiredInRedis ? wireMargin : acquireMargin);
        if (Math.abs(delta) >= 0.5) {
          // Only a start moved earlier can open a slot the head is sleeping for.
          this.#run('settle', delta, member).then(
            () => (delta < 0 ? this.#gate.wake() : undefined),
            () => undefined,
          );
        }
      },
      unused: (now) => {
        if (shadow !== null) refund(shadow.core, shadow.grant, { mono: now, wall: clock.wallNow() });
        this.#events.emit('refunded', { grantedAt: granted.mono, grantedWallAt: granted.wall });
        this.#refundInRedis({ member, serverTime: grantServerTime });
      },
    });
  }

  /** Hands a grant back in Redis now, or keeps it for when Redis is back. */
  #refundInRedis(pending: PendingRefund): void {
    const send = (): void => {
      this.#run('refund', pending.serverTime, pending.member).then(
        () => this.#gate.wake(),
        () => this.#keepRefund(pending),
      );
    };
    if (this.#mode === 'redis' && !this.#flushingRefunds) send();
    else this.#keepRefund(pending);
  }

  #keepRefund(pending: PendingRefund): void {
    this.#pendingRefunds.push(pending);
    if (this.#pendingRefunds.length > MAX_PENDING_REFUNDS) this.#pendingRefunds.shift();
  }

  /** Sends the refunds kept while Redis was away, oldest first; stops at the first failure. */
  async #flushRefunds(): Promise<void> {
    if (this.#flushingRefunds) return;
    this.#flushingRefunds = true;
    try {
      while (this.#pendingRefunds.length > 0 && this.#mode === 'redis') {
        const next = this.#pendingRefunds[0]!;
        await this.#run('refund', next.serverTime, next.member);
        this.#pendingRefunds.shift();
      }
    } catch {
      // Still unreachable: the rest waits for the next recovery.
    } finally {
      this.#flushingRefunds = false;
    }
    this.#gate.wake();
  }

  #attemptLocal(at: Instant): Decision {
    const core = this.#fallback;
    if (core === null) throw new BridgeError('INTERNAL', 'limiter in fallback without a local limiter');
    const decision = decide(core, at);
    if (decision.allow) {
      const grant = commit(core, at);
      this.#grantedAt = at.mono;
      this.#fallbackStarts += 1;
      this.#exhaustedReported = false;
      const slot = coreSlot(core, grant, this.#options.clock, {
        refunded: (refunded) => {
          this.#events.emit('refunded', { grantedAt: refunded.at.mono, grantedWallAt: refunded.at.wall });
          this.#refundFallbackStart();
        },
        changed: () => this.#gate.wake(),
      });
      return { allow: true, slot };
    } else if (decision.reason === 'quota-exhausted' && !this.#exhaustedReported) {
      this.#exhaustedReported = true;
      this.#events.emit('quota-exhausted', {
        until: at.wall + decision.waitMs,
        dailyLimit: core.daily.limit,
      });
    }
    return decision;
  }

  /**
   * A call granted in fallback never left. Not yet added to the shared count: it simply is not
   * added. Already added (Redis came back meanwhile): taken back from the minute it was added in.
   */
  #refundFallbackStart(): void {
    if (this.#fallbackStarts > 0) {
      this.#fallbackStarts -= 1;
      return;
    }
    const serverTime = this.#lastDebitServerTime ?? this.#last?.reply.now;
    if (serverTime !== undefined) this.#refundInRedis({ member: '', serverTime });
  }

  #nextMember(): string {
    return `${this.#clientId}:${this.#sequence++}`;
  }

  async #run(op: ScriptOp, arg = 0, member = this.#nextMember(), marginMs = 0): Promise<ScriptReply> {
    if (!this.#connectedOnce) await this.#firstConnection();
    const { dailyLimit, dailyWindow } = this.#options;
    const pacing = this.#policy.burst < this.#policy.capacity || this.#policy.ratePerSecond < 1;
    const raw = await (this.#client as unknown as AcquireCommand).gongLimiter(
      ...this.#keys,
      op,
      this.#policy.capacity,
      ROLLING_SECOND_MS,
      this.#policy.emissionMs,
      pacing ? this.#policy.toleranceMs : -1,
      dailyLimit,
      dailyWindow,
      member,
      arg,
      marginMs,
    );
    const reply = parseScriptReply(raw);
    this.#last = { reply, at: this.#at() };
    return reply;
  }

  /** At start-up the socket is still connecting: give it the connect timeout before falling back. */
  async #firstConnection(): Promise<void> {
    if (this.#client.status === 'ready') {
      this.#connectedOnce = true;
      return;
    }
    const timeoutMs = this.#options.connectTimeoutMs ?? 500;
    const timer = new AbortController();
    let onReady = (): void => undefined;
    const ready = new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      this.#client.once('ready', onReady);
    });
    const timedOut = this.#options.sleep(timeoutMs, timer.signal).then(
      () => false,
      () => false,
    );
    const isReady = await Promise.race([ready, timedOut]);
    timer.abort();
    this.#client.off('ready', onReady);
    if (!isReady) throw new BridgeError('REDIS_UNAVAILABLE', `Redis not ready within ${timeoutMs} ms`);
    this.#connectedOnce = true;
  }

  #enterFallback(error: unknown): void {
    if (this.#mode === 'local-fallback') return;
    const at = this.#at();
    const replicas = Math.max(1, this.#options.expectedReplicas);
    const dailyShare = Math.max(1, Math.floor(this.#options.dailyLimit / replicas));
    // Charge the share with what the cluster had already spent, as far as we last heard.
    const remainingShare =
      this.#last === null
        ? dailyShare
        : Math.floor(Math.max(0, this.#options.dailyLimit - this.#last.reply.used) / replicas);
    const core = new LimiterCore({
      ratePerSecond: this.#options.ratePerSecond / replicas,
      burst: this.#options.burst,
      windowMarginMs: this.#options.windowMarginMs,
      dailyLimit: dailyShare,
      dailyWindow: this.#options.dailyWindow,
      at,
      dailyAlreadyUsed: dailyShare - Math.min(dailyShare, remainingShare),
      margin: this.#margin,
    });
    core.hold(at.mono + this.#policy.windowMs);
    this.#fallback = core;
    this.#fallbackSince = at.mono;
    this.#fallbackStarts = 0;
    this.#mode = 'local-fallback';
    const message = error instanceof Error ? error.message : String(error);
    const ratePerSecond = core.window.policy.ratePerSecond;
    this.#options.logger?.warn(
      { err: message, ratePerSecond, dailyLimit: dailyShare, replicas },
      "Redis unreachable: rate limiter falls back to this replica's local share",
    );
    this.#events.emit('fallback', { error: message, ratePerSecond, dailyLimit: dailyShare });
    void this.#probe();
  }

  async #probe(): Promise<void> {
    const signal = this.#closing.signal;
    while (this.#mode === 'local-fallback' && !signal.aborted) {
      try {
        await this.#options.sleep(this.#probeIntervalMs, signal);
      } catch {
        return;
      }
      try {
        await this.#client.ping();
        // Calls made while cut off count against the shared day too.
        const debit = this.#fallbackStarts;
        const debited = await this.#run('debit', debit);
        this.#lastDebitServerTime = debited.now;
        this.#fallbackStarts -= debit;
        // Refunds that arrived while the debit was on its way were counted in it: take them back.
        for (; this.#fallbackStarts < 0; this.#fallbackStarts += 1) {
          this.#keepRefund({ member: '', serverTime: debited.now });
        }
      } catch {
        continue;
      }
      const at = this.#at();
      this.#mode = 'redis';
      // A 429 that arrived while Redis was away paused only this replica; the others must hear of
      // it too, for whatever is left of it.
      const pauseLeft = this.#throttledUntil - at.mono;
      if (pauseLeft > 0) this.#run('pause', pauseLeft).catch(() => undefined);
      this.#dualUntil = at.mono + this.#policy.windowMs + this.#probeIntervalMs;
      const downtimeMs = at.mono - this.#fallbackSince;
      this.#options.logger?.info({ downtimeMs }, 'Redis reachable again: cluster-wide rate limit restored');
      this.#events.emit('recovered', { downtimeMs });
      void this.#flushRefunds();
      // The head may be sleeping on the fallback's longer wait; let it ask Redis now.
      this.#gate.wake();
    }
  }

  #withLocalPause(snapshot: LimiterSnapshot, at: Instant): LimiterSnapshot {
    if (this.#throttledUntil <= at.mono) return snapshot;
    const until = at.wall + (this.#throttledUntil - at.mono);
    if (snapshot.pausedUntil !== null && snapshot.pausedUntil >= until) return snapshot;
    return { ...snapshot, tokensAvailable: 0, pausedUntil: until, pauseReason: 'throttled' };
  }

  #at(): Instant {
    return { mono: this.#options.clock.now(), wall: this.#options.clock.wallNow() };
  }
}
