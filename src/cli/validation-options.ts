import { loadConfig } from '../config/config.ts';
import { BridgeError } from '../errors.ts';
import { inferredRuleModes, type InferredRuleMode } from '../gong/rule-catalogue.ts';
import {
  createGongBodyValidator,
  gongValidatorOptions,
  type GongBodyValidator,
  type GongValidation,
} from '../gong/validate.ts';
import type { CliIo } from './command.ts';

/**
 * The validation the offline commands (check-payload, transform) apply: the bridge's own, from
 * the same settings (GONG_MAX_STRING_LENGTH, GONG_MAX_LIST_ITEMS, GONG_INFERRED_RULES,
 * GONG_INFERRED_RULES_REJECT) read from the environment, so a producer's CI sees what the
 * running bridge would do; --inferred-rules overrides the mode.
 */
export const inferredRulesOption = { 'inferred-rules': { type: 'string' } } as const;

export const inferredRulesHelp = `  --inferred-rules MODE   What a rule Gong does not document (docs/reference/body-rules.md)
                          does to a line: send (default, or GONG_INFERRED_RULES) makes it a
                          warning, as the bridge sends such events flagged; reject makes it an
                          error, as the bridge then withholds them.`;

export function cliValidator(mode: string | undefined, io: Pick<CliIo, 'env'>): GongBodyValidator {
  if (mode !== undefined && !(inferredRuleModes as readonly string[]).includes(mode)) {
    throw new BridgeError(
      'USAGE',
      `--inferred-rules must be one of ${inferredRuleModes.join(', ')}, got ${JSON.stringify(mode)}`,
    );
  }
  const config = loadConfig(io.env);
  return createGongBodyValidator(
    gongValidatorOptions(config, (mode as InferredRuleMode | undefined) ?? config.GONG_INFERRED_RULES),
  );
}

/** The warnings and inferred rules of a verdict, as the JSON Lines output shows them (when any). */
export function findingsOf(
  result: Pick<GongValidation, 'ok'> & Partial<Pick<GongValidation, 'warnings' | 'inferredRules'>>,
): {
  warnings?: string[];
  inferredRules?: readonly string[];
} {
  return {
    ...(result.warnings === undefined ? {} : { warnings: result.warnings }),
    ...(result.inferredRules === undefined ? {} : { inferredRules: result.inferredRules }),
  };
}
