// A stand-in handler so the infra tests can build a function named "cimd" without its real code.
export const handler = async () => ({ statusCode: 204, body: '' });
