import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, parseConfig } from './parse.ts';
import type { GatewayConfig } from './schema.ts';

/**
 * Loads and validates a config file: `.json`, or a module (`.ts` under tsx, `.js`, `.mjs`)
 * whose default export is the config.
 */
export async function loadConfig(file: string): Promise<GatewayConfig> {
  const path = resolve(file);
  let value: unknown;
  try {
    if (path.endsWith('.json')) {
      value = JSON.parse(await readFile(path, 'utf8'));
    } else if (/\.(ts|mts|js|mjs)$/.test(path)) {
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      if (mod.default === undefined)
        throw new ConfigError(file, [
          '(config): the module has no default export; use `export default defineConfig({...})`',
        ]);
      value = mod.default;
    } else {
      throw new ConfigError(file, ['(config): use a .ts, .js, .mjs or .json file']);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : error instanceof SyntaxError
          ? `not valid JSON or JavaScript (${error.message})`
          : `could not be read (${(error as Error).message})`;
    throw new ConfigError(file, [`(config): ${reason}`]);
  }
  const result = parseConfig(value);
  if (!result.ok) throw new ConfigError(file, result.errors);
  return result.config;
}
