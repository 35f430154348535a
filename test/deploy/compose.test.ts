import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { knownEnvironmentNames, loadConfig } from '../../src/config/config.ts';
import { settings } from '../../src/config/settings.ts';

// No Docker engine runs in CI, so the stack cannot be started here; these checks catch what would
// only show up at `docker compose up`: unknown settings, missing mounted files, drift from the
// Helm chart's single sources.

const repoRoot = resolve(import.meta.dirname, '../..');
const composeFile = join(repoRoot, 'deploy/compose.yaml');
const composeDir = dirname(composeFile);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
}

const compose = parseYaml(readFileSync(composeFile, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`compose has no service ${name}`);
  return found;
}

function stringEnv(svc: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(svc.environment ?? {}).map(([key, value]) => [key, String(value)]),
  );
}

function seconds(duration: string): number {
  const match = /^(\d+)(s|m)$/.exec(duration);
  if (match === null) throw new Error(`unsupported duration ${duration}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

describe('deploy/compose.yaml', () => {
  it('runs the services the stack needs, on the pinned images', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'kafka',
        'registry',
        'redis',
        'gong-sandbox',
        'bridge',
        'prometheus',
        'grafana',
      ]),
    );
    expect(service('kafka').image).toBe('apache/kafka:4.1.1');
    expect(service('registry').image).toBe('apicurio/apicurio-registry:3.0.9');
  });

  it('builds the bridge and the sandbox from the repository Dockerfile', () => {
    for (const name of ['bridge', 'gong-sandbox']) {
      const build = service(name).build;
      expect(build, name).toBeDefined();
      const context = resolve(composeDir, build?.context ?? '');
      expect(context).toBe(repoRoot);
      expect(existsSync(join(context, build?.dockerfile ?? ''))).toBe(true);
    }
    expect(service('bridge').command).toEqual(['run']);
    expect(service('gong-sandbox').command?.slice(0, 5)).toEqual([
      'sandbox',
      '--port',
      '8089',
      '--host',
      '0.0.0.0',
    ]);
  });

  it('gives the bridge only settings the bridge knows, and a configuration it accepts', () => {
    const known = new Set(knownEnvironmentNames());
    for (const name of ['bridge', 'gong-sandbox']) {
      const unknown = Object.keys(service(name).environment ?? {}).filter((key) => !known.has(key));
      expect(unknown, name).toEqual([]);
    }
    const config = loadConfig(stringEnv(service('bridge')));
    expect(config.KAFKA_BROKERS).toEqual(['kafka:9092']);
    expect(config.SCHEMA_REGISTRY_URL).toBe('http://registry:8080/apis/ccompat/v7');
    expect(config.GONG_BASE_URL).toBe('http://gong-sandbox:8089');
    expect(config.REDIS_URL).toBe('redis://redis:6379');
  });

  it('gives the bridge time to drain before compose kills it', () => {
    const bridge = service('bridge');
    const drainMs = loadConfig(stringEnv(bridge)).SHUTDOWN_TIMEOUT_MS;
    expect(seconds(bridge.stop_grace_period ?? '10s')).toBeGreaterThan(drainMs / 1000);
  });

  it('runs the bridge hardened like the chart: read-only root, no capabilities', () => {
    expect(service('bridge').read_only).toBe(true);
    expect(service('bridge').cap_drop).toEqual(['ALL']);
  });

  it('scrapes the bridge on its HTTP port and loads the single-source alerts', () => {
    const bridgePort = loadConfig(stringEnv(service('bridge'))).HTTP_PORT;
    const prometheus = parseYaml(readFileSync(join(composeDir, 'prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    expect(targets).toContain(`bridge:${bridgePort}`);

    const mounts = new Map(
      (service('prometheus').volumes ?? []).map((volume) => {
        const [source = '', target = ''] = volume.split(':');
        return [target, resolve(composeDir, source)];
      }),
    );
    for (const ruleFile of prometheus.rule_files) {
      expect(mounts.get(ruleFile), ruleFile).toBe(join(repoRoot, 'deploy/prometheus/alerts.yaml'));
    }
    for (const source of mounts.values()) expect(existsSync(source), source).toBe(true);
  });

  it('provisions Grafana with the single-source dashboard', () => {
    const volumes = service('grafana').volumes ?? [];
    const sources = volumes.map((volume) => resolve(composeDir, volume.split(':')[0] ?? ''));
    for (const source of sources) expect(existsSync(source), source).toBe(true);
    expect(sources).toContain(join(repoRoot, 'deploy/grafana/gong-bridge.json'));
    const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/gong-bridge.json'), 'utf8')) as {
      uid: string;
    };
    expect(dashboard.uid).toBe('gong-bridge');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('starts the CLI with node as PID 1 as a numeric non-root user', () => {
    expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/cli/main.js"]');
    expect(dockerfile).toContain('CMD ["run"]');
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    expect(users.at(-1)).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('exposes the default HTTP_PORT', () => {
    const defaultPort = settings.HTTP_PORT.schema.parse(undefined);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${defaultPort}$`, 'm'));
  });

  it('copies only sources that exist and are not excluded by .dockerignore', () => {
    // COPY lines without --from read the build context.
    const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((match) => {
      const parts = (match[1] ?? '').trim().split(/\s+/);
      return parts.slice(0, -1);
    });
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'schemas']));
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source)), source).toBe(true);
      expect(dockerignore, source).not.toContain(source);
    }
  });
});
