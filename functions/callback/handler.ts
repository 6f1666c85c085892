import { lambdaServices } from '../adapters/lambda-services.ts';
import { createCallbackHandler } from './app.ts';

const { services, originSecret } = await lambdaServices(process.env);

/** Lambda entry point; services are built once per cold start. */
export const handler = createCallbackHandler(services, originSecret);
