import type { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.ts';

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; errors: string[] };

/** `["routes", 1, "from"]` → `routes[1].from` */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(config)';
}

/** One line per problem, each naming the key path and what would fix it. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`${formatKeyPath([...issue.path, key])}: unknown key; remove it or check its spelling`);
      }
      continue;
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      lines.push(`${formatKeyPath(issue.path)}: is required (${issue.expected})`);
      continue;
    }
    lines.push(`${formatKeyPath(issue.path)}: ${issue.message}`);
  }
  return lines;
}

/** Validates a config value (from a `.ts` default export or parsed `.json`). */
export function parseConfig(value: unknown): ConfigResult {
  const result = configSchema.safeParse(value);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, errors: formatConfigIssues(result.error.issues) };
}

/** Thrown by {@link loadConfig} when a config file is missing, unreadable or invalid. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`${file} is not a valid MCP Edge config:\n  ${errors.join('\n  ')}`);
  }
}
