import type { AccessClaims } from '../tokens/access-token.js';

/** Typed Hono context variables. */
export interface AppEnv {
  Variables: {
    /** Claims of the verified, unrevoked access token (set by `requireAccessToken`). */
    claims: AccessClaims;
  };
}
