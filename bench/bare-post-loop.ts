/**
 * What the HTTP path alone allows: Gong bodies posted by a bare undici loop, nothing else. The
 * baseline of bench/pipeline.bench.ts, run as a process of its own (like `send` and `run`) so
 * that its CPU time is measured the same way as theirs, from /proc.
 *
 * Per body: JSON.stringify, POST on a keep-alive Pool (pipelining 1, as the Gong client), read the
 * answer. `--in-flight` loops share `--connections` connections, as MAX_IN_FLIGHT records share
 * GONG_MAX_CONNECTIONS in `run`. The bodies are read and parsed before the first POST. Prints one
 * JSON line: {"posted":N,"accepted":N}.
 *
 *   node bench/bare-post-loop.ts --url http://127.0.0.1:PORT --bodies FILE.jsonl \
 *     --authorization 'Basic ...' [--connections 16] [--in-flight 32]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    bodies: { type: 'string' },
    authorization: { type: 'string' },
    connections: { type: 'string', default: '16' },
    'in-flight': { type: 'string', default: '32' },
  },
});
if (values.url === undefined || values.bodies === undefined || values.authorization === undefined) {
  throw new Error('--url, --bodies and --authorization are required');
}
const bodies = readFileSync(values.bodies, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as unknown);
const headers = {
  authorization: values.authorization,
  'content-type': 'application/json',
  accept: 'application/json',
};
const pool = new Pool(values.url, { connections: Number(values.connections), pipelining: 1 });
let next = 0;
let accepted = 0;
await Promise.all(
  Array.from({ length: Number(values['in-flight']) }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const answer = await pool.request({
        method: 'POST',
        path: '/v2/digital-interaction',
        headers,
        body: JSON.stringify(body),
      });
      await answer.body.text();
      if (answer.statusCode === 200) accepted += 1;
    }
  }),
);
await pool.close();
process.stdout.write(`${JSON.stringify({ posted: bodies.length, accepted })}\n`);
