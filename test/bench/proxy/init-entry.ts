// The proxy handler's imports without its cold-start calls (Secrets Manager GetSecretValue and KMS
// GetPublicKey in proxyLambdaServices): bundled like the handler, then imported in a fresh process
// to time module initialisation alone.
import { proxyLambdaServices } from '../../../functions/adapters/proxy-lambda.ts';
import { createProxyHandler } from '../../../functions/proxy/app.ts';

export const loaded = [proxyLambdaServices, createProxyHandler];
