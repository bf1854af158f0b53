import { z } from 'zod';

const email = z.string().trim().max(254).email('must be an e-mail address');
/** Length rules live in the password policy (so they answer `weak_password`); this only bounds the input. */
const password = z.string().min(1, 'is required').max(4096);
const device = z.string().max(128).optional();
const token = z.string().min(1, 'is required').max(8192);

export const registerBody = z.object({ email, password, device });
export const loginBody = z.object({ email: z.string().max(254), password, device });
export const refreshBody = z.object({ refresh_token: token.optional() });
export const logoutBody = z.object({ refresh_token: token.optional() });
export const passwordBody = z.object({ current_password: password, new_password: password });
export const revokeBody = z.object({ token, token_type_hint: z.string().max(64).optional() });
