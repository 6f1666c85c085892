import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Io } from './io.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseCommandArgs} returns: the parsed values, or the reason they could not be parsed. */
export type ParsedArgs<O extends Options> =
  | {
      ok: true;
      values: ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];
      positionals: string[];
    }
  | { ok: false; message: string };

/**
 * `node:util` `parseArgs` in strict mode, returning a result instead of throwing, so every command
 * turns an unknown flag or a missing value into the same usage error (exit 2).
 */
export function parseCommandArgs<O extends Options>(args: string[], options: O): ParsedArgs<O> {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { ok: true, values, positionals };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/**
 * Prints a usage error: the message, the command's synopsis (the first line of `usage`) and where
 * the full help is. Returns exit code 2.
 */
export function usageError(io: Io, command: string, message: string, usage: string): number {
  const synopsis = usage.split('\n', 1)[0];
  io.err(`mcp-edge ${command}: ${message}\n${synopsis}\nRun "mcp-edge ${command} --help" for the options.\n`);
  return 2;
}
