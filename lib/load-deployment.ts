import { loadConfig } from '../functions/core/config/load.ts';
import { ConfigError } from '../functions/core/config/parse.ts';
import { checkDeployConfig, type DeployCheckEnv, type Deployment, formatProblems } from './config-checks.ts';

/** The config file `cdk synth` uses when no `-c config=<path>` is given. */
export const DEFAULT_CONFIG_FILE = 'gateway.config.ts';

export type LoadDeploymentResult = { ok: true; deployment: Deployment } | { ok: false; message: string };

/**
 * Loads a config file (`.ts` or `.json`), validates it with the config schema, then with the
 * deployment checks. A failure is one message for a person: which file, which key, what to do.
 */
export async function loadDeployment(file: string, env: DeployCheckEnv = {}): Promise<LoadDeploymentResult> {
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
  const checked = checkDeployConfig(config, env);
  if (!checked.ok) {
    return {
      ok: false,
      message: `${file} cannot be deployed to AWS:\n  ${formatProblems(checked.problems).join('\n  ')}`,
    };
  }
  return checked;
}
