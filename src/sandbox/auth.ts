import { timingSafeEqual } from 'node:crypto';

/** Credentials the sandbox accepts: Gong's access key pair (Basic) and/or an OAuth bearer token. */
export interface SandboxCredentials {
  readonly accessKey?: string | undefined;
  readonly accessKeySecret?: string | undefined;
  readonly bearerToken?: string | undefined;
}

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Checks an Authorization header. Comparisons are constant-time so the sandbox never models a
 * server that leaks how much of a secret was right; the messages still say which part failed,
 * because the sandbox exists to tell a developer what is wrong.
 */
export function checkAuthorization(header: string | undefined, credentials: SandboxCredentials): AuthResult {
  if (header === undefined || header.trim() === '')
    return { ok: false, error: 'Missing Authorization header' };
  const match = /^(\S+)\s+(.+)$/.exec(header.trim());
  const scheme = match?.[1]?.toLowerCase();
  const value = match?.[2]?.trim() ?? '';
  if (scheme === 'basic') {
    if (credentials.accessKey === undefined || credentials.accessKeySecret === undefined) {
      return { ok: false, error: 'Basic authentication is not enabled' };
    }
    const expected = Buffer.from(`${credentials.accessKey}:${credentials.accessKeySecret}`, 'utf8');
    const decoded = Buffer.from(value, 'base64');
    // Buffer.from(..., 'base64') ignores junk silently; re-encoding catches a value that was not base64.
    const wellFormed = decoded.toString('base64').replace(/=+$/, '') === value.replace(/=+$/, '');
    if (!wellFormed) return { ok: false, error: 'Malformed Basic credentials' };
    return sameBytes(decoded, expected)
      ? { ok: true }
      : { ok: false, error: 'Invalid access key or access key secret' };
  }
  if (scheme === 'bearer') {
    if (credentials.bearerToken === undefined)
      return { ok: false, error: 'Bearer authentication is not enabled' };
    return sameBytes(Buffer.from(value, 'utf8'), Buffer.from(credentials.bearerToken, 'utf8'))
      ? { ok: true }
      : { ok: false, error: 'Invalid bearer token' };
  }
  return { ok: false, error: 'Unsupported authorization scheme; use Basic or Bearer' };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  // timingSafeEqual throws on unequal lengths; compare against itself to spend the same time.
  return a.length === b.length ? timingSafeEqual(a, b) : (timingSafeEqual(b, b), false);
}
