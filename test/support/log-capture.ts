import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { expect, inject } from 'vitest';

/**
 * vitest setupFile: this test file's gateway log lines and EMF blobs go to a file of the run's log
 * folder instead of stdout (MCP_EDGE_LOG_FILE, read by functions/adapters/telemetry-output.ts), and
 * the secrets its support code records go beside them (MCP_EDGE_SECRETS_FILE,
 * test/support/secrets.ts). Child processes a test starts (the CLI) inherit both.
 */
const dir = inject('logDir');
const testFile = expect.getState().testPath;
const name = `${testFile ? basename(testFile, '.ts') : 'unknown'}-${process.pid}-${randomBytes(3).toString('hex')}`;
process.env.MCP_EDGE_LOG_FILE = join(dir, `${name}.log.jsonl`);
process.env.MCP_EDGE_SECRETS_FILE = join(dir, `${name}.secrets.jsonl`);
