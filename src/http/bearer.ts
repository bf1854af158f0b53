/** RFC 6750 §2.1: `Authorization: Bearer <token>`, scheme case-insensitive. Returns the token or `null`. */
export function bearerToken(header: string | undefined): string | null {
  if (!header || header.length < 8) return null;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = header.slice(7).trim();
  return token.length > 0 ? token : null;
}
