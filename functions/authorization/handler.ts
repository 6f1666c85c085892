import { lambdaServices } from '../adapters/lambda-services.ts';
import { createAuthorizationHandler } from './app.ts';

const { services, originSecret } = await lambdaServices(process.env);

/** Lambda entry point; services (and the KMS signer) are built once per cold start. */
export const handler = createAuthorizationHandler(services, originSecret);
