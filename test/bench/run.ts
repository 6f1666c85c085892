// npm run bench [cimd|proxy] — prints figures, each against a baseline measured in the same
// process (ratios within one run; absolute numbers depend on the machine printed first).
import { runCimdBench } from './cimd.ts';
import { runProxyBench } from './proxy.ts';
import { machine } from './stats.ts';

// The gateway's request log lines and metrics (one line and one EMF blob per request) are written
// as in Lambda, but to a file nobody reads instead of this report.
process.env.MCP_EDGE_LOG_FILE ??= '/dev/null';

const only = process.argv.slice(2);
const wanted = (name: string) => only.length === 0 || only.includes(name);

console.log(`Machine: ${machine()}`);
if (wanted('cimd')) await runCimdBench();
if (wanted('proxy')) await runProxyBench();
