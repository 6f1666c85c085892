/** The one scope the gateway grants: use this route's MCP endpoint as the signed-in person. */
export const GATEWAY_SCOPE = 'mcp';
export const SCOPES_SUPPORTED = [GATEWAY_SCOPE] as const;
