// The mcp-edge CLI. Each command lives in cli/COMMAND.ts and exports
// run(args, io): Promise<number>, returning the exit code (0 ok, 1 invalid, 2 usage).
import { type Io, processIo } from '../cli/io.ts';

const USAGE = `usage: mcp-edge <command> [options]

commands:
  dev [--config FILE] [--tls-cert PEM --tls-key PEM]   run the local gateway (npm start)
  cimd create --name N --redirect-uri U [...]          write a Client ID Metadata Document
  cimd validate <FILE|URL> [--verbose] [--json]         check a document or a hosted client_id URL
  routes [--config FILE] [--json]                       list routes: CIMD, callback, MCP endpoint, issuer
  client <MCP URL> [tools/list | tools/call NAME JSON]  authorize in the browser, then run one MCP request

Run "mcp-edge <command> --help" for a command's options.`;

type Command = (args: string[], io: Io) => Promise<number>;

async function pick(argv: string[]): Promise<{ command?: Command; args: string[] }> {
  const [first, second, ...rest] = argv;
  if (first === 'dev') return { command: (await import('../cli/dev.ts')).run, args: argv.slice(1) };
  if (first === 'client') return { command: (await import('../cli/client.ts')).run, args: argv.slice(1) };
  if (first === 'routes') return { command: (await import('../cli/routes.ts')).run, args: argv.slice(1) };
  if (first === 'cimd' && second === 'create')
    return { command: (await import('../cli/cimd-create.ts')).run, args: rest };
  if (first === 'cimd' && second === 'validate') {
    return { command: (await import('../cli/cimd-validate.ts')).run, args: rest };
  }
  return { args: argv };
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(`${USAGE}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const { command, args } = await pick(argv);
  if (!command) {
    io.err(`mcp-edge: unknown command "${argv.slice(0, 2).join(' ')}"\n\n${USAGE}\n`);
    return 2;
  }
  return command(args, io);
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
