import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Io } from './io.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `-h, --help`, which every command takes. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

type Values<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: true }>
>['values'];

/**
 * What {@link parseCommand} returns: the parsed values, or the exit code the command returns at
 * once because help was printed (0) or the arguments were refused (2).
 */
export type ParsedCommand<O extends Options> =
  | { ok: true; values: Values<O>; positionals: string[] }
  | { ok: false; exitCode: number };

/** What a command needs to parse its arguments: its name (`cimd validate`) and its full help. */
export interface CommandSpec<O extends Options> {
  readonly name: string;
  /** The full help; its first line is the synopsis repeated under usage errors. */
  readonly usage: string;
  readonly options: O;
}

/**
 * `node:util` `parseArgs` in strict mode for one command, with the behaviour every command shares:
 * `-h`/`--help` prints the help to stdout and exits 0 (also when other arguments are wrong, so a
 * person who asks for help gets it); an unknown option or a missing value is a usage error on
 * stderr, exit 2.
 */
export function parseCommand<O extends Options>(
  io: Io,
  spec: CommandSpec<O>,
  args: string[],
): ParsedCommand<O> {
  const end = args.indexOf('--');
  const beforeEnd = end === -1 ? args : args.slice(0, end);
  if (beforeEnd.includes('--help') || beforeEnd.includes('-h')) {
    io.out(`${spec.usage}\n`);
    return { ok: false, exitCode: 0 };
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...spec.options, ...HELP },
      strict: true,
      allowPositionals: true,
    });
    return { ok: true, values: values as Values<O>, positionals };
  } catch (error) {
    return { ok: false, exitCode: usageError(io, spec.name, describeParseError(error), spec.usage) };
  }
}

/** Node's messages, without the advice about `--` that does not apply to a mistyped option. */
function describeParseError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /^Unknown option '([^']*)'/.exec(message)?.[1];
    if (option) return `unknown option ${option}`;
  }
  return message;
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
