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
 * `--min-semi-space-size=16 --max-semi-space-size=16`: the young generation is two 16 MiB
 * semi-spaces, always. Left to itself V8 sizes it from the memory limit, then by traffic. Under
 * the containers' 512 MiB limit (docker-compose.yml, deploy/k8s) an allocating loop's new space
 * (both semi-spaces) reached at most 2 MiB on Node 20 and 6 MiB on Node 24, against 32 MiB fixed,
 * so it is collected more often. In a 512 MiB cgroup, one pinned core, medians of 8 runs of 5 s,
 * CPU µs a request V8's sizing → fixed: Node 24 (the image's) cached 23.1 → 18.1 (+27% req/s),
 * exact 29.3 → 27.0; Node 20 cached 20.7 → 18.6, exact 34.8 → 29.6. The cost is memory where V8
 * would have kept less: RSS under that load on Node 20 125–138 → 158–212 MiB (Node 24: 228–258 →
 * 172–249), and the heap limit under 512 MiB grows from 259 to 304 MiB (3 × 16 MiB reserved).
 * Without a limit V8 shrinks it to 1 MiB semi-spaces after start-up or a quiet spell and grows it
 * back under load, up to 16 MiB on Node 20 and 64 MiB on Node 24, so RSS followed recent traffic
 * (+14 MiB over a soak's first minutes; Node 24 under load 337 against 228 MiB) at the same CPU
 * within noise; 32 or 64 MiB semi-spaces were no faster.
 */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
