/** Public surface of the local managed-identity token endpoint. */
export { startTokenEndpoint, createLocalToken, decodeLocalToken, DEFAULT_CLIENT_ID, DEFAULT_IDENTITY_TENANT_ID } from './token-endpoint.js';
export type { TokenEndpoint, TokenEndpointOptions, TokenRequestRecord, LocalTokenClaims } from './token-endpoint.js';
