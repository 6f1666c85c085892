// The mcp-edge CLI. Each command lives in cli/COMMAND.ts and exports
// run(args, io): Promise<number>, returning the exit code (0 ok, 1 invalid, 2 usage).
import { type Io, processIo } from '../cli/io.ts';

type Command = (args: string[], io: Io) => Promise<number>;

/** Every command, by its words; loaded only when run, so `cimd validate` does not load the gateway. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  dev: async () => (await import('../cli/dev.ts')).run,
  routes: async () => (await import('../cli/routes.ts')).run,
  client: async () => (await import('../cli/client.ts')).run,
  'cimd create': async () => (await import('../cli/cimd-create.ts')).run,
  'cimd validate': async () => (await import('../cli/cimd-validate.ts')).run,
};

export const USAGE = `usage: mcp-edge <command> [options]

commands:
  dev [--config FILE] [--tls-cert PEM --tls-key PEM]   run the local gateway (npm start)
  cimd create --name N --redirect-uri U [...]          write a Client ID Metadata Document
  cimd validate <FILE|URL> [-v] [--json]               check a document or a hosted client_id URL
  routes [--config FILE] [--json]                       list routes: CIMD, callback, MCP endpoint, issuer
  client <MCP URL> [tools/list | tools/call NAME JSON]  authorize in the browser, then run one MCP request

options:
  -h, --help   show this help

Run "mcp-edge <command> --help" (or "mcp-edge help <command>") for a command's options.`;

export const CIMD_USAGE = `usage: mcp-edge cimd <create|validate> [options]

Client ID Metadata Documents: the JSON an OAuth client publishes at the https URL it uses as its
client_id.

commands:
  create --name N --redirect-uri U [...] [-o FILE]   write a document
  validate <FILE|URL> [-v|--verbose] [--json]         check a document or a hosted client_id URL

options:
  -h, --help   show this help

Run "mcp-edge cimd <command> --help" for a command's options.`;

const isHelp = (word: string | undefined) => word === '--help' || word === '-h';

/** A usage error at the command level: the message and the (short) list of commands, exit 2. */
function refuse(io: Io, message: string, usage: string): number {
  io.err(`mcp-edge: ${message}\n\n${usage}\n`);
  return 2;
}

/**
 * Finds the command named by the first words of `argv` and runs it with the rest. `--help`/`-h`
 * on the CLI or on the `cimd` group prints that help to stdout (exit 0); `help COMMAND` is the
 * command's `--help`; anything unknown is a usage error on stderr (exit 2).
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === 'help') return second ? main([...argv.slice(1), '--help'], io) : main(['--help'], io);
  if (isHelp(first)) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (first === undefined) return refuse(io, 'no command given', USAGE);
  if (first.startsWith('-')) return refuse(io, `unknown option ${first}`, USAGE);

  if (first === 'cimd') {
    if (isHelp(second)) {
      io.out(`${CIMD_USAGE}\n`);
      return 0;
    }
    if (second === undefined) return refuse(io, 'cimd needs a command', CIMD_USAGE);
    const load = COMMANDS[`cimd ${second}`];
    if (!load) {
      const what = second.startsWith('-') ? 'option' : 'command';
      return refuse(io, `unknown cimd ${what} ${JSON.stringify(second)}`, CIMD_USAGE);
    }
    return (await load())(rest, io);
  }
  const load = COMMANDS[first];
  if (!load) return refuse(io, `unknown command ${JSON.stringify(first)}`, USAGE);
  return (await load())(argv.slice(1), io);
}

if (process.argv[1]?.endsWith('mcp-edge.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`mcp-edge: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
