import type { AccessClaims } from '../tokens/access-token.js';

/** Typed Hono context variables. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** Claims of the verified, unrevoked access token (set by `requireAccessToken`). */
    claims: AccessClaims;
  };
}
