import type { IncomingMessage } from 'node:http';

export type BodyRead =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: 'too-large'; readonly received: number };

/**
 * Reads a request body of at most `maxBytes`, whatever Content-Length claims (chunked bodies have
 * none). Past the limit nothing more is buffered: the rest is discarded as it arrives so the client
 * can finish sending and read the 413, and a client that keeps going past `drainCapBytes` is
 * disconnected rather than drained for ever.
 */
export function readBody(req: IncomingMessage, maxBytes: number, drainCapBytes: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      let discarded = received;
      req.on('data', (more: Buffer) => {
        discarded += more.length;
        if (discarded > drainCapBytes) req.destroy();
      });
      resolve({ ok: false, reason: 'too-large', received });
    };
    const onEnd = () => resolve({ ok: true, bytes: Buffer.concat(chunks, received) });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}
