import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run's folder of captured log lines and recorded secrets (test/support/log-capture.ts). */
    logDir: string;
  }
}

const LOGS = resolve(import.meta.dirname, '../../test-results/logs');
/** Folders of earlier runs are removed once this old (runs of other checkouts may be going on). */
const KEEP_MS = 6 * 60 * 60 * 1000;

/**
 * vitest globalSetup: one folder per run under test-results/logs/, handed to every test file,
 * which sends the gateway's log lines and its recorded secrets there; the last project
 * (test/logs/) greps the lines for the secrets. Each project runs this setup; the first one
 * makes the folder and the others reuse it (the main process's environment remembers it).
 */
export default function setup(project: TestProject): void {
  let dir = process.env.MCP_EDGE_TEST_LOG_DIR;
  if (!dir) {
    mkdirSync(LOGS, { recursive: true });
    for (const name of readdirSync(LOGS)) {
      const path = join(LOGS, name);
      if (Date.now() - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { recursive: true, force: true });
    }
    dir = join(LOGS, `run-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    process.env.MCP_EDGE_TEST_LOG_DIR = dir;
  }
  project.provide('logDir', dir);
}
