import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * scripts/audit.sh against a scripted registry: the verdict must come from the advisories, and an
 * endpoint that does not answer must be its own exit code, never a silent pass. Advisory payloads
 * follow npm's bulk endpoint (`POST /-/npm/v1/security/advisories/bulk`).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

interface Advisory {
  id: number;
  url: string;
  title: string;
  severity: 'low' | 'moderate' | 'high' | 'critical';
  vulnerable_versions: string;
  cwe: string[];
  cvss: { score: number; vectorString: string | null };
}

/** A registry answering the bulk endpoint with `advisories` per package name, or `status`. */
async function registry(answer: { status?: number; advisories?: Record<string, Advisory[]> }) {
  const asked: string[][] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/-/npm/v1/security/advisories/bulk')) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString() : body.toString();
      asked.push(Object.keys(JSON.parse(text) as object));
      if (answer.status !== undefined) {
        res.writeHead(answer.status).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.advisories ?? {}));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}/`, asked };
}

function audit(registryUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [join(root, 'scripts', 'audit.sh'), '--registry', registryUrl],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code ?? 2), stdout, stderr });
      },
    );
  });
}

const advisory = (severity: Advisory['severity']): Advisory => ({
  id: 1_099_999,
  url: 'https://github.com/advisories/GHSA-test-test-test',
  title: `a ${severity} problem`,
  severity,
  vulnerable_versions: '<99.0.0',
  cwe: ['CWE-400'],
  cvss: { score: 7.5, vectorString: null },
});

describe('scripts/audit.sh', () => {
  it('passes with no advisories, and asks only about production dependencies', async () => {
    const fake = await registry({ advisories: {} });
    const result = await audit(fake.url);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/production dependencies: 0 critical, 0 high, 0 moderate, 0 low/);
    const asked = fake.asked.flat();
    expect(asked).toContain('kafkajs');
    expect(asked).not.toContain('vitest');
  });

  it('passes a moderate advisory but lists it', async () => {
    const result = await audit((await registry({ advisories: { avsc: [advisory('moderate')] } })).url);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/moderate avsc .*: a moderate problem/);
  });

  it('fails on a high advisory in a production dependency, naming it', async () => {
    const result = await audit((await registry({ advisories: { undici: [advisory('high')] } })).url);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/high\s+undici .*: a high problem https:\/\/github.com\/advisories/);
    expect(result.stderr).toMatch(/FAIL: 1 high or critical/);
  });

  it('fails on a critical advisory in a transitive production dependency', async () => {
    const result = await audit((await registry({ advisories: { mappersmith: [advisory('critical')] } })).url);
    expect(result.code).toBe(1);
  });

  it('reports an endpoint that refuses the request (405) as unreachable, exit 3, not a pass', async () => {
    const result = await audit((await registry({ status: 405 })).url);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/UNREACHABLE: .*405 Method Not Allowed/);
    expect(result.stderr).toMatch(/this is not a pass/);
  });

  it('reports a registry that is down as unreachable, exit 3', async () => {
    const result = await audit('http://127.0.0.1:9/');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/UNREACHABLE: .*ECONNREFUSED/);
  });
});
