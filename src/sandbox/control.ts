import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultPatchSchema } from './faults.ts';
import { issueMessages, parseJson, send } from './http.ts';
import { readBody } from './read-body.ts';
import type { SandboxState } from './state.ts';

/**
 * The sandbox's own endpoints under /_sandbox/: health, stats, the accepted events, the call log,
 * reset, and the faults (read, or changed with a JSON patch), for tests and for people at a shell.
 */

const CONTROL_BODY_LIMIT = 64 * 1024;
export const LIST_LIMIT_DEFAULT = 1000;
export const LIST_LIMIT_MAX = 100_000;

export async function handleControl(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): Promise<void> {
  const method = req.method ?? 'GET';
  const only = (allowed: string) => {
    if (method === allowed) return true;
    send(res, 405, { errors: [`${method} is not allowed on ${path}; use ${allowed}`] }, { Allow: allowed });
    return false;
  };
  const { events, callLog } = state;
  const view = state.view.bind(state);
  switch (path) {
    case '/_sandbox/health':
      if (only('GET')) send(res, 200, { ok: true });
      return;
    case '/_sandbox/stats':
      if (only('GET')) send(res, 200, state.stats());
      return;
    case '/_sandbox/accepted': {
      if (!only('GET')) return;
      const wanted = query.get('eventId');
      if (wanted !== null) {
        const event = events.get(wanted);
        send(res, 200, { total: events.size, events: event === undefined ? [] : [view(event)] });
        return;
      }
      const offset = queryNumber(query, 'offset', 0, Number.MAX_SAFE_INTEGER);
      const limit = queryNumber(query, 'limit', LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
      send(res, 200, { total: events.size, offset, limit, events: events.list(offset, limit).map(view) });
      return;
    }
    case '/_sandbox/calls': {
      if (!only('GET')) return;
      const since = queryNumber(query, 'since', 0, Number.MAX_SAFE_INTEGER);
      const limit = queryNumber(query, 'limit', LIST_LIMIT_MAX, LIST_LIMIT_MAX);
      const calls = callLog.since(since, limit);
      send(res, 200, { calls, lastSeq: calls.at(-1)?.seq ?? since });
      return;
    }
    case '/_sandbox/reset':
      if (!only('POST')) return;
      state.reset();
      send(res, 200, { ok: true });
      return;
    case '/_sandbox/faults': {
      if (method === 'GET') return send(res, 200, state.faultView());
      if (!only('POST')) return;
      const read = await readBody(req, CONTROL_BODY_LIMIT, CONTROL_BODY_LIMIT * 4);
      if (!read.ok) return send(res, 413, { errors: ['fault settings body too large'] });
      // Any Content-Type: `curl -d` sends form-urlencoded, and this endpoint is for people at a shell.
      const parsed = parseJson(read.bytes);
      if (!parsed.ok) return send(res, 400, { errors: [parsed.error] });
      const patch = faultPatchSchema.safeParse(parsed.value);
      if (!patch.success) {
        return send(res, 400, { errors: issueMessages(patch.error) });
      }
      send(res, 200, state.setFaults(patch.data));
      return;
    }
    default:
      send(res, 404, { errors: [`No such sandbox endpoint: ${path}`] });
  }
}

function queryNumber(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 ? Math.min(value, max) : fallback;
}
