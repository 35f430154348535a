import type { DocumentedRule, InferredRule } from '../../src/gong/rule-catalogue.ts';
import {
  MAX_REPORTED_PROBLEMS as maxReported,
  type GongValidationSettings,
} from '../../src/gong/validate.ts';
import { generatedBanner, mdCell, type Rendered } from './markdown.ts';

/**
 * docs/reference/body-rules.md: every rule the bridge checks a Gong body against, in its tier,
 * from the tables in src/gong/rule-catalogue.ts. A rule without a doc, or a documented rule
 * without its quote from the contract, is a problem the drift test reports.
 */
export function renderBodyRules(
  documented: readonly DocumentedRule[],
  inferred: readonly InferredRule[],
  defaults: GongValidationSettings,
): Rendered {
  const count = (value: number) => value.toLocaleString('en-US');
  const lines = [
    generatedBanner('src/gong/rule-catalogue.ts'),
    '# Gong body rules reference',
    '',
    "Before a call, gong-bridge checks each body against the contract of Gong's",
    '`POST /v2/digital-interaction` ("Add a digital Interaction", updated 2025-11-17). The rules',
    'fall in three tiers, and only what the contract states may withhold an event without asking',
    'Gong. Line numbers refer to the copy of the contract the team works from',
    '(shared/gong/digital-interaction-api.md). Why the tiers and their defaults:',
    '[delivery.md](../delivery.md#rules-gong-documents-and-rules-we-inferred).',
    '',
    '## Documented: the contract states them',
    '',
    'An event that breaks one is dead-lettered as `GONG_INVALID` without a call, whatever the',
    'settings; Gong would answer 400.',
    '',
    '| Rule | What is checked | Where the contract says so |',
    '| --- | --- | --- |',
    ...documented.map((rule) => `| \`${rule.name}\` | ${mdCell(rule.doc)} | ${mdCell(rule.spec)} |`),
    '',
    '## Inferred: we read them into the contract, Gong does not state them',
    '',
    'An event that breaks one is sent to Gong by default and flagged: counted in',
    "`gong_bridge_inferred_rule_flagged_total{rule}`, and Gong's answer counted in",
    '`gong_bridge_inferred_rule_verdicts_total{rule,verdict}` (confirmed by a 400/422, refuted by a',
    '2xx). If Gong refuses it, its dead letter (`GONG_REJECTED`) names the rules in',
    '`gong-bridge.inferred-rules`. `GONG_INFERRED_RULES=reject` withholds all of them instead',
    '(`GONG_INVALID`, no call), `GONG_INFERRED_RULES_REJECT` only the ones listed.',
    '`gong-bridge check-payload` and `transform` report them as warnings.',
    '',
    '| Rule | What is checked | Why it is only inferred |',
    '| --- | --- | --- |',
    ...inferred.map((rule) => `| \`${rule.name}\` | ${mdCell(rule.doc)} | ${mdCell(rule.basis)} |`),
    '',
    "## Limits: the bridge's own",
    '',
    'Not guesses about Gong (the contract states no limits) but bounds that protect the bridge. An',
    'event over one is dead-lettered as `GONG_INVALID` without a call, naming the field and the',
    'setting. The sandbox does not apply them.',
    '',
    '| Setting | Default | What it bounds |',
    '| --- | --- | --- |',
    `| \`GONG_MAX_STRING_LENGTH\` | \`GONG_MAX_BODY_BYTES\` (${count(defaults.GONG_MAX_STRING_LENGTH ?? defaults.GONG_MAX_BODY_BYTES)}) | Any one string, in UTF-16 code units. At the default it withholds nothing the body limit would let through; it only names the field. |`,
    `| \`GONG_MAX_LIST_ITEMS\` | ${count(defaults.GONG_MAX_LIST_ITEMS)} | Any one list (custom fields, labels, steps, CRM contexts). The validator keeps one problem per bad item, so this bounds what one broken record costs. |`,
    `| \`GONG_MAX_BODY_BYTES\` | ${count(defaults.GONG_MAX_BODY_BYTES)} | The serialized body, checked after the rules. |`,
    '',
    `At most ${maxReported} problems are listed per event (the last line counts the rest), so a list`,
    'of bad items cannot turn into a dead-letter header or a log line of megabytes.',
  ];
  const problems = [
    ...documented
      .filter((rule) => rule.doc.trim() === '' || !/\(L\d+/.test(rule.spec))
      .map((rule) => `documented rule ${rule.name} has no doc or no line of the contract in its spec`),
    ...inferred
      .filter((rule) => rule.doc.trim() === '' || rule.basis.trim() === '')
      .map((rule) => `inferred rule ${rule.name} has no doc or no basis`),
  ];
  return { content: `${lines.join('\n')}\n`, problems };
}
