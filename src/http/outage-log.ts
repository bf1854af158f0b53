import type { Logger } from 'pino';
import { createLogThrottle } from '../observability/log-throttle.js';
import type { Metrics } from '../observability/metrics.js';
import { UnavailableError } from '../errors.js';

/**
 * Reports a dependency that could not answer: counted in `jwt_dependency_errors_total` every
 * time, logged at most once a second per dependency (with the count held back), so an outage
 * never turns into a log flood, and a flood of Redis errors never hides PostgreSQL's first.
 */
export function createOutageLog(logger: Logger, metrics: Metrics) {
  const throttles = { cache: createLogThrottle(1_000), database: createLogThrottle(1_000), other: createLogThrottle(1_000) };
  return (error: Error, message: string, fields: Record<string, unknown> = {}): void => {
    const dependency = error instanceof UnavailableError ? error.dependency : 'other';
    if (dependency !== 'other') metrics.dependencyError(dependency);
    throttles[dependency]((suppressed) => logger.warn({ err: error.cause ?? error, ...fields, suppressed }, message));
  };
}
