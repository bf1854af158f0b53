/**
 * Node/V8 flags every deployed instance runs with: the Dockerfile's `CMD`, the benchmark's
 * instances and the local cluster (`npm run cluster`, the soak) all use this list, and a test
 * checks the Dockerfile against it. They cannot be set from inside the process.
 *
 * `--single-threaded-gc`: V8 collects garbage on the event-loop thread only, instead of also
 * starting helper threads for parallel scavenges and concurrent marking. An instance is one
 * event loop given about one core (`cpus: "1"` in docker-compose.yml): there the helpers add no
 * parallelism, only thread switches and cache misses on the same core. Measured on one pinned
 * core (A/B, 8 rounds): `/authenticate` in `exact` mode +7.8% req/s (29.2 → 27.2 µs CPU per
 * request), `cached` +5%; logins, cold tokens and /refresh unchanged. Incremental marking still
 * splits major collections into steps.
 */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
