// The CDK app: `npx cdk synth|deploy [-c config=<path>]`. Loads and checks the config, then builds
// the certificates stack (us-east-1) and the gateway stack (the configured region).
import { App } from 'aws-cdk-lib';
import { DEFAULT_CONFIG_FILE, loadDeployment } from '../lib/load-deployment.ts';
import { addMcpEdgeStacks } from '../lib/mcp-edge-app.ts';

const app = new App();
const file = String(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_FILE);
const loaded = await loadDeployment(file, { defaultAccount: process.env.CDK_DEFAULT_ACCOUNT });
if (!loaded.ok) {
  // A config mistake is the operator's to fix: the message, not a stack trace.
  console.error(loaded.message);
  process.exit(1);
}
const originGeneration = app.node.tryGetContext('originSecretGeneration');
const sealingGeneration = app.node.tryGetContext('sealingSecretGeneration');
addMcpEdgeStacks(app, loaded.deployment, {
  ...(originGeneration === undefined ? {} : { originSecretGeneration: Number(originGeneration) }),
  ...(sealingGeneration === undefined ? {} : { sealingSecretGeneration: Number(sealingGeneration) }),
});
app.synth();
