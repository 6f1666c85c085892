import type { Services } from '../adapters/services.ts';
import { webHandler } from '../adapters/web-handler.ts';
import { createCallbackApp } from '../core/web/callback-app.ts';

/** The OAuth callback function: `/.pomerium/oauth/callback`. */
export function createCallbackHandler(services: Services, originSecret: string | undefined) {
  return webHandler(createCallbackApp(services.callback), originSecret, 'callback');
}
