import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { inject } from 'vitest';

export interface RedisHandle {
  readonly url: string;
  /** Stops the server this helper started; a no-op for the harness's REDIS_URL. */
  stop(): Promise<void>;
}

export interface SpawnedRedis extends RedisHandle {
  readonly port: number;
  /** Kills the server abruptly (SIGKILL), as a crash or a network cut would look. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, found by letting the kernel pick one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Always starts a private redis-server (needed when a test kills and restarts it). */
export async function spawnRedis(
  binary = process.env.REDIS_SERVER_BIN ?? 'redis-server',
): Promise<SpawnedRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, kill, stop: kill };
}

/**
 * The harness's Redis when there is one (REDIS_URL, or the services the integration tier's global
 * setup provides), else a private redis-server.
 */
export async function startRedis(): Promise<RedisHandle> {
  const url = process.env.REDIS_URL || providedRedisUrl();
  if (url !== undefined && url !== '') return { url, stop: async () => undefined };
  return spawnRedis();
}

function providedRedisUrl(): string | undefined {
  try {
    return inject('services')?.redisUrl;
  } catch {
    // Outside a vitest worker with the global setup (a bench, a script): nothing provided.
    return undefined;
  }
}

/** Runs `fn` with a Redis URL and stops a server it had to start, even when `fn` throws. */
export async function withRedis<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const redis = await startRedis();
  try {
    return await fn(redis.url);
  } finally {
    await redis.stop();
  }
}
