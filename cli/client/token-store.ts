import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What the client keeps per MCP server URL between runs: its registration and its tokens. */
export interface StoredServer {
  clientInformation?: Record<string, unknown>;
  tokens?: Record<string, unknown>;
}

/** The default file: `$XDG_CONFIG_HOME/mcp-edge/client.json` (or `~/.config/...`). */
export function defaultTokenFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'mcp-edge', 'client.json');
}

/**
 * A JSON file readable by its owner only (mode 0600 in a 0700 folder), written atomically, holding
 * one entry per MCP server URL. Tokens are secrets: they are never printed.
 */
export class TokenStore {
  constructor(readonly path: string) {}

  async read(server: string): Promise<StoredServer> {
    return (await this.all())[server] ?? {};
  }

  async update(server: string, change: (entry: StoredServer) => StoredServer): Promise<void> {
    const all = await this.all();
    all[server] = change(all[server] ?? {});
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.path);
  }

  private async all(): Promise<Record<string, StoredServer>> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, StoredServer>) : {};
    } catch {
      return {};
    }
  }
}
