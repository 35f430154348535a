import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { knownEnvironmentNames, loadConfig } from '../../src/config/config.ts';
import { secretSettingNames, settings } from '../../src/config/settings.ts';
import { loadMappings } from '../../src/mapping/index.ts';
import {
  chartManagedSettings,
  renderValuesSchema,
  valuesSchemaPath,
} from '../../scripts/helm-values-schema.ts';
import {
  allFeaturesValues,
  chartDir,
  findHelm,
  helmTemplate,
  only,
  render,
  renderNotes,
  repoRoot,
  type K8sObject,
} from './helm.ts';
import { skipUnless } from '../helpers/requirements.ts';

// scripts/prereqs.sh builds helm for `make test`; run alone without it, the chart tests are skipped
// with this reason in the closing lines, and fail the run under CI.
const helm = findHelm();
const needsHelm = skipUnless(
  helm !== undefined,
  'helm not found in .tools/bin or on PATH: run `bash scripts/helm.sh build`, or scripts/prereqs.sh test',
);

/** The Deployment's one container, typed loosely: tests read fields, the models validate them. */
interface Container {
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds: number;
  automountServiceAccountToken: boolean;
}
interface DeploymentShape {
  spec: { replicas?: number; template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } };
}

function deploymentOf(objects: readonly K8sObject[]): DeploymentShape {
  return only(objects, 'Deployment') as unknown as DeploymentShape;
}
function containerOf(objects: readonly K8sObject[]): Container {
  const [container] = deploymentOf(objects).spec.template.spec.containers;
  if (container === undefined) throw new Error('Deployment has no container');
  return container;
}
function configMapData(objects: readonly K8sObject[]): Record<string, string> {
  const name = containerOf(objects).envFrom?.[0]?.configMapRef?.name;
  const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === name);
  if (configMap === undefined) throw new Error(`ConfigMap ${name} referenced by envFrom is not rendered`);
  return (configMap as unknown as { data: Record<string, string> }).data;
}

/**
 * The environment a pod would see: the ConfigMap loaded with envFrom plus secretKeyRefs resolved
 * against the rendered Secret (missing optional keys stay unset, as in Kubernetes).
 */
function podEnvironment(objects: readonly K8sObject[]): Record<string, string> {
  const env: Record<string, string> = { ...configMapData(objects) };
  const secret = objects.find((object) => object.kind === 'Secret') as unknown as
    { metadata: { name: string }; data: Record<string, string> | null } | undefined;
  for (const entry of containerOf(objects).env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (ref === undefined) continue;
    const encoded = secret?.metadata.name === ref.name ? secret.data?.[ref.key] : undefined;
    if (encoded !== undefined) env[entry.name] = Buffer.from(encoded, 'base64').toString('utf8');
  }
  return env;
}

// Every kind the chart may render, with the model that validates it. A kind missing here fails
// the validation test, so a new template cannot escape schema checks.
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

const allFeatures = parseYaml(readFileSync(allFeaturesValues, 'utf8')) as {
  secret: { values: Record<string, string> };
};
const valuesSchema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as {
  properties: {
    config: { properties: Record<string, unknown> };
    secret: { properties: { values: { properties: Record<string, unknown> } } };
  };
};

const chartManaged = chartManagedSettings;
const known = new Set(knownEnvironmentNames());
// Besides the bridge's settings, the pod gets what Node itself reads: the heap bounds.
const knownToPod = new Set([...known, 'NODE_OPTIONS']);
const secrets = new Set<string>(secretSettingNames);

describe('values.schema.json', () => {
  it('is generated from the settings catalogue (run `bash scripts/helm.sh sync` after adding a setting)', () => {
    const current = readFileSync(valuesSchemaPath, 'utf8');
    expect(current).toBe(renderValuesSchema(current));
  });
});

describe('helm chart', needsHelm, () => {
  const h = helm as string;
  // Rendered in beforeAll: a skipped describe still runs its body to collect tests.
  let defaults: K8sObject[] = [];
  let full: K8sObject[] = [];
  beforeAll(() => {
    defaults = render(h);
    full = render(h, { files: [allFeaturesValues] });
  });

  it('probes /healthz for liveness and start-up and /readyz for readiness, on the HTTP port', () => {
    for (const objects of [defaults, full]) {
      const container = containerOf(objects);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(container.ports).toEqual([{ name: 'http', containerPort: 9464, protocol: 'TCP' }]);
      expect(configMapData(objects).HTTP_PORT).toBe('9464');
      expect(container.resources.requests).toBeDefined();
      expect(container.resources.limits?.memory).toBeDefined();
    }
  });

  it('bounds the V8 heap through NODE_OPTIONS, below the memory limit', () => {
    const nodeOptions = (objects: readonly K8sObject[]) =>
      containerOf(objects).env?.find((entry) => entry.name === 'NODE_OPTIONS')?.value;
    expect(nodeOptions(defaults)).toBe('--max-old-space-size=384 --max-semi-space-size=8');
    expect(containerOf(defaults).resources.limits?.memory).toBe('512Mi');
    const tuned = render(h, {
      values: { heap: { maxOldSpaceMiB: 0, maxSemiSpaceMiB: 4 }, nodeOptions: '--enable-source-maps' },
    });
    expect(nodeOptions(tuned)).toBe('--max-semi-space-size=4 --enable-source-maps');
    const none = render(h, { values: { heap: { maxOldSpaceMiB: 0, maxSemiSpaceMiB: 0 } } });
    expect(nodeOptions(none)).toBeUndefined();
    // A larger limit makes room for a larger heap; Gi counts too.
    const larger = render(h, {
      values: { resources: { limits: { memory: '1Gi' } }, heap: { maxOldSpaceMiB: 768 } },
    });
    expect(nodeOptions(larger)).toBe('--max-old-space-size=768 --max-semi-space-size=8');
  });

  it('moves the port everywhere at once when http.port changes', () => {
    const objects = render(h, { set: ['http.port=8080'] });
    expect(containerOf(objects).ports[0]?.containerPort).toBe(8080);
    expect(configMapData(objects).HTTP_PORT).toBe('8080');
    const service = only(objects, 'Service') as unknown as {
      spec: { ports: { port: number; targetPort: string }[] };
    };
    expect(service.spec.ports[0]).toMatchObject({ port: 8080, targetPort: 'http' });
  });

  it('runs restricted: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const restricted = (objects: readonly K8sObject[]) => {
      const pod = deploymentOf(objects).spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(containerOf(objects).securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      });
    };
    restricted(defaults);
    restricted(full);
    // Values may add to the security context but never weaken the restricted baseline.
    restricted(
      render(h, {
        values: {
          securityContext: {
            readOnlyRootFilesystem: false,
            allowPrivilegeEscalation: true,
            capabilities: { drop: [] },
          },
          podSecurityContext: { runAsNonRoot: false, seccompProfile: { type: 'Unconfined' } },
        },
      }),
    );
  });

  it.each([0, 1, 30_000, 45_500, 600_000])(
    'gives SHUTDOWN_TIMEOUT_MS=%i a termination grace period longer than the drain',
    (ms) => {
      const objects = render(h, { values: { config: { SHUTDOWN_TIMEOUT_MS: ms } } });
      const grace = deploymentOf(objects).spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBeGreaterThanOrEqual(ms / 1000 + 5);
      expect(configMapData(objects).SHUTDOWN_TIMEOUT_MS).toBe(String(ms));
    },
  );

  it('uses the bridge default drain time when SHUTDOWN_TIMEOUT_MS is not set', () => {
    const objects = render(h, { set: ['config.SHUTDOWN_TIMEOUT_MS=null'] });
    const defaultMs = settings.SHUTDOWN_TIMEOUT_MS.schema.parse(undefined);
    expect(deploymentOf(objects).spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(
      defaultMs / 1000,
    );
  });

  it('never writes a secret value into any ConfigMap', () => {
    const secretValues = Object.values(allFeatures.secret.values).filter((value) => value !== '');
    expect(secretValues.length).toBe(5);
    // The settings, the dashboard and the mappings.
    const configMaps = full.filter((object) => object.kind === 'ConfigMap');
    expect(configMaps.length).toBe(3);
    const text = JSON.stringify(configMaps);
    for (const value of secretValues) {
      expect(text).not.toContain(value);
      // Also no encoded copy, e.g. a base64 value pasted into config.
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
    }
    // ...while the pod still receives every one of them, from the Secret.
    const env = podEnvironment(full);
    for (const [name, value] of Object.entries(allFeatures.secret.values)) expect(env[name]).toBe(value);
    for (const name of Object.keys(configMapData(full))) expect(secrets.has(name)).toBe(false);
  });

  it('sets only environment variables the bridge knows (src/config/settings.ts)', () => {
    for (const objects of [defaults, full, render(h, { values: { secret: { existingSecret: 'creds' } } })]) {
      const container = containerOf(objects);
      const names = [
        ...Object.keys(configMapData(objects)),
        ...(container.env ?? []).map((entry) => entry.name),
      ];
      expect(names.length).toBeGreaterThan(5);
      expect(names.filter((name) => !knownToPod.has(name))).toEqual([]);
    }
  });

  it('offers every setting through values: non-secret ones under config, secret ones under secret.values', () => {
    const configKeys = Object.keys(valuesSchema.properties.config.properties).sort();
    const expectedConfig = [...known].filter((name) => !secrets.has(name) && !(name in chartManaged)).sort();
    expect(configKeys).toEqual(expectedConfig);
    expect(Object.keys(valuesSchema.properties.secret.properties.values.properties).sort()).toEqual(
      [...secretSettingNames].sort(),
    );
  });

  it('renders what the values say into the environment the bridge parses, including the required settings', () => {
    const env = podEnvironment(full);
    const config = loadConfig(env);
    expect(config.KAFKA_BROKERS).toEqual(['kafka-0.kafka:9093', 'kafka-1.kafka:9093']);
    expect(config.KAFKA_TOPICS).toEqual(['product-interactions']);
    expect(config.SCHEMA_REGISTRY_URL).toBe('https://registry.example.com/apis/ccompat/v7');
    expect(config.GONG_ACCESS_KEY).toBe(allFeatures.secret.values.GONG_ACCESS_KEY);
    expect(config.GONG_ACCESS_KEY_SECRET).toBe(allFeatures.secret.values.GONG_ACCESS_KEY_SECRET);
    expect(config.KAFKA_SASL_PASSWORD).toBe(allFeatures.secret.values.KAFKA_SASL_PASSWORD);
    expect(config.REDIS_URL).toBe(allFeatures.secret.values.REDIS_URL);
    expect(config.GONG_RATE_PER_SECOND).toBe(2.5);
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(45_500);
    expect(config.KAFKA_SSL).toBe(true);
    // Helm reads YAML numbers as floats; they must still reach the bridge as plain integers.
    expect(env.MAX_RECORD_BYTES).toBe('1048576');
    // With KEDA the limiter splits the quota by the most replicas that can run.
    expect(config.GONG_EXPECTED_REPLICAS).toBe(6);
    // The bearer token is the other way to authenticate.
    const bearer = podEnvironment(
      render(h, { values: { secret: { values: { GONG_BEARER_TOKEN: 'SECRET-bearer' } } } }),
    );
    expect(loadConfig(bearer).GONG_BEARER_TOKEN).toBe('SECRET-bearer');
  });

  it('accepts a list or a comma-separated string for KAFKA_BROKERS and KAFKA_TOPICS', () => {
    const env = configMapData(
      render(h, { values: { config: { KAFKA_BROKERS: 'a:9092, b:9092', KAFKA_TOPICS: ['t1', 't2'] } } }),
    );
    expect(loadConfig(env).KAFKA_BROKERS).toEqual(['a:9092', 'b:9092']);
    expect(loadConfig(env).KAFKA_TOPICS).toEqual(['t1', 't2']);
  });

  it('rolls the pods when config or secret values change, and only then', () => {
    const annotations = (objects: readonly K8sObject[]) =>
      deploymentOf(objects).spec.template.metadata.annotations;
    const base = annotations(defaults);
    expect(base['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    expect(base['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(annotations(render(h))).toEqual(base);

    const logLevel = annotations(render(h, { set: ['config.LOG_LEVEL=debug'] }));
    expect(logLevel['checksum/config']).not.toBe(base['checksum/config']);
    expect(logLevel['checksum/secret']).toBe(base['checksum/secret']);

    const token = annotations(render(h, { set: ['secret.values.GONG_BEARER_TOKEN=rotated'] }));
    expect(token['checksum/secret']).not.toBe(base['checksum/secret']);
    expect(token['checksum/config']).toBe(base['checksum/config']);

    expect(annotations(render(h, { set: ['replicaCount=3'] }))['checksum/config']).not.toBe(
      base['checksum/config'],
    );
  });

  describe('mappings', () => {
    const mappingsFile = readFileSync(join(repoRoot, 'test/fixtures/mappings/mappings.yaml'), 'utf8');
    const schemas = Object.fromEntries(
      ['page-view.avsc', 'signup.schema.json', 'video-progress.proto'].map((name) => [
        name,
        readFileSync(join(repoRoot, 'test/fixtures/mappings', name), 'utf8'),
      ]),
    );
    const mapped = (file: unknown = mappingsFile) => render(h, { values: { mappings: { file, schemas } } });
    const podSpec = (objects: readonly K8sObject[]) =>
      deploymentOf(objects).spec.template.spec as unknown as {
        volumes: { name: string; configMap?: { name: string } }[];
        containers: { volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[];
      };

    it('mounts the mapping file and its schemas from a ConfigMap and points MAPPINGS_FILE at it, where they load as run loads them', () => {
      const objects = mapped();
      expect(configMapData(objects).MAPPINGS_FILE).toBe('/etc/gong-bridge/mappings/mappings.yaml');
      const configMap = objects.find(
        (object) => object.metadata.name === 'gong-bridge-mappings',
      ) as unknown as {
        data: Record<string, string>;
      };
      expect(Object.keys(configMap.data).sort()).toEqual(['mappings.yaml', ...Object.keys(schemas)].sort());
      const spec = podSpec(objects);
      expect(spec.volumes).toContainEqual({ name: 'mappings', configMap: { name: 'gong-bridge-mappings' } });
      expect(spec.containers[0]!.volumeMounts).toContainEqual({
        name: 'mappings',
        mountPath: '/etc/gong-bridge/mappings',
        readOnly: true,
      });
      // The mounted files, as the pod would see them: the bridge compiles every mapping.
      const dir = mkdtempSync(join(tmpdir(), 'gong-bridge-mounted-'));
      try {
        for (const [name, text] of Object.entries(configMap.data)) writeFileSync(join(dir, name), text);
        const loaded = loadMappings(join(dir, 'mappings.yaml'));
        expect(loaded.mappings.map((mapping) => [mapping.name, mapping.knownFields?.source])).toEqual([
          ['web-page-view', 'Avro record acme.web.PageView (page-view.avsc)'],
          ['product-signup', 'JSON Schema Signup (signup.schema.json)'],
          ['video-progress', 'Protobuf message acme.media.VideoProgress (video-progress.proto)'],
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('takes the mapping file as a map too', () => {
      const objects = mapped(parseYaml(mappingsFile));
      const data = (
        objects.find((object) => object.metadata.name === 'gong-bridge-mappings') as unknown as {
          data: Record<string, string>;
        }
      ).data;
      expect(parseYaml(data['mappings.yaml']!)).toEqual(parseYaml(mappingsFile));
    });

    it('rolls the pods when a mapping or a schema changes, and not otherwise', () => {
      const checksum = (objects: readonly K8sObject[]) =>
        deploymentOf(objects).spec.template.metadata.annotations['checksum/mappings'];
      const base = checksum(mapped());
      expect(base).toMatch(/^[0-9a-f]{64}$/);
      expect(checksum(mapped())).toBe(base);
      expect(checksum(mapped(mappingsFile.replace('Acme Web', 'Acme Website')))).not.toBe(base);
      const otherSchema = render(h, {
        values: { mappings: { file: mappingsFile, schemas: { ...schemas, 'page-view.avsc': '{}' } } },
      });
      expect(checksum(otherSchema)).not.toBe(base);
      expect(checksum(defaults)).toBeUndefined();
      expect(configMapData(defaults).MAPPINGS_FILE).toBeUndefined();
    });

    it('mounts a ConfigMap the operator manages instead of creating one', () => {
      const objects = render(h, {
        values: { mappings: { existingConfigMap: 'team-mappings', mountPath: '/mappings' } },
      });
      expect(objects.some((object) => object.metadata.name === 'gong-bridge-mappings')).toBe(false);
      expect(configMapData(objects).MAPPINGS_FILE).toBe('/mappings/mappings.yaml');
      expect(podSpec(objects).volumes).toContainEqual({
        name: 'mappings',
        configMap: { name: 'team-mappings' },
      });
      expect(deploymentOf(objects).spec.template.metadata.annotations['checksum/mappings']).toBeUndefined();
    });
  });

  it('uses an existing Secret instead of creating one', () => {
    const objects = render(h, { values: { secret: { existingSecret: 'gong-credentials' } } });
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
    const refs = (containerOf(objects).env ?? [])
      .filter((entry) => entry.name !== 'NODE_OPTIONS')
      .map((entry) => entry.valueFrom?.secretKeyRef);
    expect(refs).toHaveLength(secretSettingNames.length);
    for (const ref of refs) expect(ref).toMatchObject({ name: 'gong-credentials', optional: true });
    expect(deploymentOf(objects).spec.template.metadata.annotations['checksum/secret']).toBeUndefined();
  });

  it('hands the replica count to KEDA, capped at the partition count', () => {
    expect(deploymentOf(full).spec.replicas).toBeUndefined();
    expect(deploymentOf(defaults).spec.replicas).toBe(1);
    const scaled = only(full, 'ScaledObject') as unknown as {
      spec: {
        scaleTargetRef: { name: string };
        maxReplicaCount: number;
        triggers: { type: string; metadata: Record<string, string> }[];
      };
    };
    expect(scaled.spec.scaleTargetRef.name).toBe(only(full, 'Deployment').metadata.name);
    expect(scaled.spec.maxReplicaCount).toBe(6);
    expect(scaled.spec.triggers[0]).toMatchObject({
      type: 'kafka',
      metadata: {
        consumerGroup: 'gong-bridge-prod',
        topic: 'product-interactions',
        allowIdleConsumers: 'false',
      },
    });
  });

  describe('refuses invalid values, naming the field', () => {
    const dir = join(repoRoot, 'test/helm/invalid');
    const files = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
    it('has invalid examples', () => expect(files.length).toBeGreaterThanOrEqual(5));
    it.each(files)('%s', (name) => {
      const file = join(dir, name);
      const expected = /^# expect: (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
      expect(expected, `${name} needs a first line '# expect: <text>'`).toBeDefined();
      const result = helmTemplate(h, { files: [file] });
      expect(result.ok).toBe(false);
      expect(result.stderr).toContain(expected);
    });
  });

  it.each([
    ['default values', {}],
    ['every optional feature', { files: [allFeaturesValues] }],
    ['an existing Secret', { values: { secret: { existingSecret: 'creds' } } }],
    [
      'minAvailable and the no-op egress policy',
      {
        values: {
          podDisruptionBudget: { maxUnavailable: null, minAvailable: 1 },
          networkPolicy: { enabled: true },
        },
      },
    ],
  ])('renders objects that validate against their Kubernetes schemas: %s', (_label, options) => {
    const objects = render(h, options);
    for (const object of objects) {
      const Model = models[`${object.apiVersion}/${object.kind}`];
      expect(Model, `no model registered for ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(
        () => new (Model as NonNullable<typeof Model>)(object as never).validate(),
        `${object.kind} ${object.metadata.name}`,
      ).not.toThrow();
      expect(object.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'gong-bridge',
        'app.kubernetes.io/instance': 'gong-bridge',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/version': '0.1.0',
      });
    }
  });

  it('renders the PrometheusRule from deploy/prometheus/alerts.yaml, unchanged', () => {
    const source = readFileSync(join(repoRoot, 'deploy/prometheus/alerts.yaml'), 'utf8');
    expect(readFileSync(join(chartDir, 'files/alerts.yaml'), 'utf8'), 'run `bash scripts/helm.sh sync`').toBe(
      source,
    );
    const rule = only(full, 'PrometheusRule') as unknown as { spec: unknown };
    expect(rule.spec).toEqual({ groups: (parseYaml(source) as { groups: unknown }).groups });
    expect(rule.spec).not.toEqual({ groups: [] });
  });

  it('ships the Grafana dashboard from deploy/grafana/gong-bridge.json, unchanged and labelled for the sidecar', () => {
    const source = readFileSync(join(repoRoot, 'deploy/grafana/gong-bridge.json'), 'utf8');
    expect(
      readFileSync(join(chartDir, 'files/dashboards/gong-bridge.json'), 'utf8'),
      'run `bash scripts/helm.sh sync`',
    ).toBe(source);
    const dashboard = only(full, 'ConfigMap', '-dashboard') as unknown as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      data: Record<string, string>;
    };
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(dashboard.metadata.annotations.grafana_folder).toBe('Integrations');
    expect(JSON.parse(dashboard.data['gong-bridge.json'] ?? '')).toEqual(JSON.parse(source));
  });

  it('keeps optional objects off by default', () => {
    const kinds = defaults.map((object) => object.kind).sort();
    expect(kinds).toEqual([
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'ServiceAccount',
    ]);
  });

  // The HTTP endpoints bind 0.0.0.0 without authentication, as Prometheus targets do; the
  // NetworkPolicy is how a cluster restricts them (docs/security.md).
  it('NetworkPolicy, when on, admits only the HTTP port, from metricsFrom when given', () => {
    interface PolicyShape {
      spec: { policyTypes: string[]; ingress: unknown[]; egress: unknown[] };
    }
    const policyOf = (objects: readonly K8sObject[]) =>
      only(objects, 'NetworkPolicy') as unknown as PolicyShape;
    const open = policyOf(render(h, { values: { networkPolicy: { enabled: true } } }));
    expect(open.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(open.spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    expect(open.spec.egress).toEqual([{}]);
    const monitoring = [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ];
    const restricted = policyOf(
      render(h, { values: { networkPolicy: { enabled: true, metricsFrom: monitoring } } }),
    );
    expect(restricted.spec.ingress).toEqual([
      { ports: [{ port: 'http', protocol: 'TCP' }], from: monitoring },
    ]);
  });

  it('warns in NOTES when several replicas can run without Redis', () => {
    const required = { KAFKA_BROKERS: 'k:9092', KAFKA_TOPICS: 't', SCHEMA_REGISTRY_URL: 'http://r:8080' };
    const creds = { GONG_ACCESS_KEY: 'a', GONG_ACCESS_KEY_SECRET: 'b' };
    const warning = /WARNING: up to (\d+) replicas can run but REDIS_URL is not set/;
    const single = renderNotes(h, { values: { config: required, secret: { values: creds } } });
    expect(single).not.toContain('WARNING');
    expect(renderNotes(h, { values: { replicaCount: 3, config: required } })).toMatch(warning);
    const keda = { enabled: true, maxReplicaCount: 4, partitionCount: 4 };
    expect(renderNotes(h, { values: { keda, config: required } })).toMatch(warning);
    const withRedis = renderNotes(h, {
      values: {
        replicaCount: 3,
        config: required,
        secret: { values: { ...creds, REDIS_URL: 'redis://r:6379' } },
      },
    });
    expect(withRedis).not.toContain('WARNING');
    expect(renderNotes(h)).toContain(
      'config.KAFKA_BROKERS, config.KAFKA_TOPICS, config.SCHEMA_REGISTRY_URL not set',
    );
  });
});
