import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { authFromConfig } from '../../src/wiring/gong-client.ts';

describe('authFromConfig', () => {
  it('picks Basic, bearer or a token file, and refuses ambiguity without echoing secrets', () => {
    expect(authFromConfig(loadConfig({ GONG_ACCESS_KEY: 'k', GONG_ACCESS_KEY_SECRET: 's' }))).toEqual({
      kind: 'basic',
      accessKey: 'k',
      accessKeySecret: 's',
    });
    expect(authFromConfig(loadConfig({ GONG_BEARER_TOKEN: 't' }))).toEqual({ kind: 'bearer', token: 't' });
    expect(authFromConfig(loadConfig({ GONG_BEARER_TOKEN_FILE: '/run/token' }, () => 'from-file'))).toEqual({
      kind: 'bearer-file',
      path: '/run/token',
    });
    expect(() => authFromConfig(loadConfig({ GONG_ACCESS_KEY: 'k' }))).toThrow(/GONG_ACCESS_KEY_SECRET/);
    expect(() => authFromConfig(loadConfig({}))).toThrow(/credentials are required/);
    try {
      authFromConfig(
        loadConfig({ GONG_ACCESS_KEY: 'k', GONG_ACCESS_KEY_SECRET: 'hunter2', GONG_BEARER_TOKEN: 'tok9' }),
      );
    } catch (error) {
      expect(String(error)).not.toMatch(/hunter2|tok9/);
    }
  });
});
