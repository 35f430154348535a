import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Helpers that run the real helm binary on the chart and parse what it renders. */

export const repoRoot = resolve(import.meta.dirname, '../..');
export const chartDir = join(repoRoot, 'helm/gong-bridge');
export const allFeaturesValues = join(chartDir, 'ci/all-features-values.yaml');

// Rendering for a fixed Kubernetes version keeps the output independent of how helm was built
// (a `go install`ed helm without release ldflags would otherwise assume v1.20).
const kubeVersion = '1.34.0';

/** The helm scripts/helm.sh builds, else one on PATH; undefined when there is none. */
export function findHelm(): string | undefined {
  const candidates = [process.env.HELM, join(repoRoot, '.tools/bin/helm')];
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate !== '' && existsSync(candidate)) return candidate;
  }
  const onPath = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'helm' : undefined;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderOptions {
  /** Values files, applied in order. */
  readonly files?: readonly string[];
  /** Values given inline, written to a temporary file applied last. */
  readonly values?: unknown;
  /** `--set` pairs, e.g. `config.LOG_LEVEL=debug`. */
  readonly set?: readonly string[];
  /** Render another copy of the chart (used to render NOTES.txt). */
  readonly chart?: string;
  readonly showOnly?: string;
}

export interface RenderResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

export function helmTemplate(helm: string, options: RenderOptions = {}): RenderResult {
  const args = ['template', 'gong-bridge', options.chart ?? chartDir, '--namespace', 'integrations'];
  args.push('--kube-version', kubeVersion);
  for (const file of options.files ?? []) args.push('-f', file);
  let tmp: string | undefined;
  if (options.values !== undefined) {
    tmp = mkdtempSync(join(tmpdir(), 'gong-bridge-values-'));
    const file = join(tmp, 'values.json');
    // JSON is valid YAML, so helm reads it as a values file.
    writeFileSync(file, JSON.stringify(options.values));
    args.push('-f', file);
  }
  for (const pair of options.set ?? []) args.push('--set', pair);
  if (options.showOnly !== undefined) args.push('--show-only', options.showOnly);
  try {
    const result = spawnSync(helm, args, { encoding: 'utf8' });
    if (result.error !== undefined) throw result.error;
    return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
  } finally {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Renders and parses; a refusal fails the calling test with helm's own message. */
export function render(helm: string, options: RenderOptions = {}): K8sObject[] {
  const result = helmTemplate(helm, options);
  if (!result.ok) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/**
 * NOTES.txt is not part of `helm template` output and `helm install --dry-run` needs a cluster,
 * so a copy of the chart turns the notes into a named template rendered inside a plain document.
 */
export function renderNotes(helm: string, options: RenderOptions = {}): string {
  const copy = mkdtempSync(join(tmpdir(), 'gong-bridge-chart-'));
  try {
    cpSync(chartDir, copy, { recursive: true });
    const notes = readFileSync(join(copy, 'templates/NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates/NOTES.txt'));
    writeFileSync(
      join(copy, 'templates/_test_notes.tpl'),
      `{{- define "test.notes" -}}\n${notes}\n{{- end }}\n`,
    );
    writeFileSync(
      join(copy, 'templates/test-notes.yaml'),
      'notes: |\n{{ include "test.notes" . | indent 2 }}\n',
    );
    const [document] = render(helm, { ...options, chart: copy, showOnly: 'templates/test-notes.yaml' });
    return String((document as unknown as { notes: string }).notes);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export function only(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.filter((object) => object.kind === kind && object.metadata.name.endsWith(nameSuffix));
  if (found.length !== 1) throw new Error(`expected one ${kind}${nameSuffix}, found ${found.length}`);
  return found[0] as K8sObject;
}
