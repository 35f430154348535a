import { loadConfig, type ConfigCheck } from '../config/config.ts';
import type { Settings } from '../config/settings.ts';
import { configWarnings, unknownVariableWarnings, type ConfigWarning } from '../config/warnings.ts';
import type { CliIo } from './command.ts';

/**
 * Loads the settings a command needs, every problem in one error. When they do not parse, the
 * unknown-variable warnings are printed first, because a misspelt name (KAFKA_BROKER) is most
 * often why a required one (KAFKA_BROKERS) is missing.
 */
export function loadCommandConfig(
  io: CliIo,
  command: string,
  checks: readonly ConfigCheck[] = [],
): { config: Settings; warnings: ConfigWarning[] } {
  try {
    const config = loadConfig(io.env, { checks });
    return { config, warnings: configWarnings(io.env, config) };
  } catch (error) {
    printWarnings(io, command, unknownVariableWarnings(io.env));
    throw error;
  }
}

export function printWarnings(io: CliIo, command: string, warnings: readonly ConfigWarning[]): void {
  for (const warning of warnings) io.stderr.write(`gong-bridge ${command}: warning: ${warning.message}\n`);
}

/** loadCommandConfig for commands that print their warnings on stderr at once. */
export function loadConfigWithWarnings(
  io: CliIo,
  command: string,
  checks: readonly ConfigCheck[] = [],
): Settings {
  const { config, warnings } = loadCommandConfig(io, command, checks);
  printWarnings(io, command, warnings);
  return config;
}
