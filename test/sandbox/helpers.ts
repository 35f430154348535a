import { request } from 'undici';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.ts';

export { manualClock, sampleBody } from '../delivery/helpers.ts';

export const KEY = 'sandbox-key';
export const SECRET = 'sandbox-secret';
export const basic = (key = KEY, secret = SECRET) =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

const running: RunningSandbox[] = [];

/** A sandbox on port 0 with Basic credentials; limits off unless a test sets them. */
export async function sandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const started = await startSandbox({
    accessKey: KEY,
    accessKeySecret: SECRET,
    rps: 0,
    daily: 0,
    ...options,
  });
  running.push(started);
  return started;
}

export async function closeAll(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s.close()));
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: { requestId?: string; errors?: string[] } & Record<string, unknown>;
}

export async function post(
  target: RunningSandbox,
  body: unknown,
  options: {
    authorization?: string | null | undefined;
    headers?: Record<string, string>;
    path?: string;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  const authorization = options.authorization === undefined ? basic() : options.authorization;
  if (authorization !== null) headers.authorization = authorization;
  const response = await request(`${target.url}${options.path ?? '/v2/digital-interaction'}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: (await response.body.json()) as Reply['body'],
  };
}

export async function get(target: RunningSandbox, path: string): Promise<Reply> {
  const response = await request(`${target.url}${path}`);
  return {
    status: response.statusCode,
    headers: response.headers,
    body: (await response.body.json()) as Reply['body'],
  };
}
