import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE22_PATH, requireNode22 } from '../support/node22.ts';

/**
 * scripts/prerequisites.mjs, the step `npm test` and `.ci/run` run first. Every run here is one the
 * step may not install from (MCP_EDGE_PREREQS_NO_INSTALL=1, or a PATH without apt-get and npm), and
 * a missing Chromium is simulated with CHROMIUM_PATH: nothing is installed or removed.
 */
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-prereqs-'));
const sudo = process.getuid?.() === 0 ? '' : 'sudo ';

interface Run {
  code: number;
  stderr: string;
  stdout: string;
  ms: number;
}

function step(env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['scripts/prerequisites.mjs'],
      { cwd: root, env, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/** An executable stand-in: the step only checks that the file is there and executable. */
function executable(path: string): string {
  writeFileSync(path, '#!/bin/sh\n', { mode: 0o755 });
  return path;
}

const lines = (text: string) => text.split('\n').map((line) => line.trim());

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prerequisites step', () => {
  it('with everything present, exits 0 silently and quickly', async () => {
    const chromium = executable(join(dir, 'chromium'));
    const run = await step({ ...process.env, CHROMIUM_PATH: chromium, MCP_EDGE_PREREQS_NO_INSTALL: '1' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('');
    expect(run.code).toBe(0);
    // No process is started when nothing is missing: ~0.1 s, most of it Node's own start-up. The
    // limit leaves room for a machine busy with the other test files.
    expect(run.ms).toBeLessThan(2_000);
    expect(requireNode22()).toBe(NODE22_PATH);
  });

  it('without Chromium and not allowed to install, stops with the exact apt-get command', async () => {
    const run = await step({
      ...process.env,
      CHROMIUM_PATH: join(dir, 'no-chromium'),
      MCP_EDGE_PREREQS_NO_INSTALL: '1',
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`Chromium at ${join(dir, 'no-chromium')}`);
    expect(run.stderr).toContain('MCP_EDGE_PREREQS_NO_INSTALL=1');
    expect(lines(run.stderr)).toContain(`${sudo}apt-get update && ${sudo}apt-get install -y chromium`);
    expect(run.stderr).not.toContain('installing');
  });

  it('without apt-get on PATH, names every missing package in one command', async () => {
    // A PATH with openssl only: no Java, no apt-get, no npm, so nothing can be installed.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    executable(join(bin, 'openssl'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, CHROMIUM_PATH: join(dir, 'no-chromium') };
    delete env.MCP_EDGE_PREREQS_NO_INSTALL;
    const run = await step(env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Java 17 or later');
    expect(run.stderr).toContain(sudo ? 'not running as root' : 'apt-get not found');
    expect(lines(run.stderr)).toContain(
      `${sudo}apt-get update && ${sudo}apt-get install -y chromium && ` +
        `${sudo}apt-get install -y --no-install-recommends openjdk-17-jre-headless`,
    );
    expect(run.stderr).not.toContain('installing');
  });
});
