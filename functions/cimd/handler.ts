import { lambdaSettings } from '../adapters/lambda-env.ts';
import { createCimdHandler } from './app.ts';

/** Lambda entry point; the route table arrives in the environment, parsed once per cold start. */
export const handler = createCimdHandler(lambdaSettings(process.env));
