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
 *
 * `--min-semi-space-size=16 --max-semi-space-size=16`: the young generation stays at two 16 MiB
 * semi-spaces. Left to itself V8 sizes it by recent traffic: shrunk to 1 MiB semi-spaces after
 * start-up or a quiet spell, doubled back under load up to 16 MiB on Node 20 and 64 MiB on Node
 * 24 (the image's). So an instance's RSS followed its traffic (+14 MiB over a soak's first
 * minutes as the young generation grew back) and was larger in the image than where it was
 * measured (Node 24, one instance under load: 337 against 228 MiB RSS). Fixed at the size Node 20
 * reaches under load, it is the same on every Node and at any traffic, and `/authenticate` costs
 * the same CPU within noise (A/B on one pinned core, medians of 8–16 runs of 5 s, µs a request,
 * unpinned → pinned: Node 20 exact 23.5 → 22.1, cached 17.5 → 17.8; Node 24 exact 20.6 → 20.8,
 * cached 14.5 → 14.7; 32 or 64 MiB semi-spaces no faster).
 */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
