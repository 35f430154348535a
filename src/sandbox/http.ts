import type { ServerResponse } from 'node:http';
import type { z } from 'zod';

/** What the sandbox's endpoints share: JSON answers, JSON bodies and zod's messages. */

const JSON_TYPE = 'application/json; charset=utf-8';

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export type JsonParse =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseJson(bytes: Buffer): JsonParse {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, error: 'Malformed request: body is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `Malformed JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export function issueMessages(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

export function describeIssues(error: z.ZodError): string {
  return issueMessages(error).join('; ');
}
