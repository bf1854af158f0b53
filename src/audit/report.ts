import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.js';
import type { AuthEvent } from './events.js';

/**
 * Reports a security event as every use case does: one info line in the log (the event's name,
 * user and session, plus `logged`) and the event queued for the audit trail (with the client and
 * details the log line leaves out).
 */
export function reportEvent(deps: { logger: Logger; audit: Pick<AuditLog, 'record'> }, event: AuthEvent, message: string, logged: Record<string, unknown> = {}): void {
  deps.logger.info({ event: event.event, userId: event.userId, sessionId: event.sessionId, ...logged }, message);
  deps.audit.record(event);
}
