const MAX_DEPTH = 3;

/**
 * The pino serializer for errors: type, code, message and stack frames, with anything a driver
 * appends about the query's parameters cut off (drizzle puts `params: <values>` in its message,
 * which can carry e-mails and password hashes). Causes are followed a few levels deep.
 */
export function safeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error).slice(0, 200) };
  const message = (error.message.split(/\s*params:/)[0] ?? '').slice(0, 500);
  const frames = error.stack?.split('\n').filter((line) => line.trimStart().startsWith('at ')).join('\n');
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(frames ? { stack: frames } : {}),
    ...(error.cause !== undefined && depth < MAX_DEPTH ? { cause: safeError(error.cause, depth + 1) } : {}),
  };
}
