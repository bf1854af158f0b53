#!/usr/bin/env bash
# Runs the tests that depend most on the Node runtime on the Node major the image runs (the
# Dockerfile's NODE_IMAGE), when that is not the Node on PATH: the compiled service, HTTP parsing
# and its hardening, the endpoints, crypto and argon2's worker threads, signals and child
# processes, and the cluster behind nginx. `npm test` covers everything on the machine's Node.
#
# The binary is the official one, from the npm registry's node-linux-<arch> package, kept under
# node_modules/.cache/image-node/ for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

image_major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\)-.*/\1/p' Dockerfile)
if [[ -z $image_major ]]; then
  echo "no 'ARG NODE_IMAGE=node:<major>-…' line in the Dockerfile" >&2
  exit 1
fi
if [[ $(node -p 'process.versions.node.split(".")[0]') == "$image_major" ]]; then
  echo "the Node on PATH is the image's major ($image_major): npm test covers it"
  exit 0
fi

case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
cache=node_modules/.cache/image-node/$arch-$image_major
if [[ ! -x $cache/package/bin/node ]]; then
  # Unpacked beside the cache and moved into place whole: an interrupted run leaves no half binary.
  rm -rf "$cache" "$cache.part" && mkdir -p "$cache.part"
  (cd "$cache.part" && timeout -k 30s 5m npm pack --silent "node-linux-$arch@$image_major" </dev/null >/dev/null && tar xzf node-linux-*.tgz && rm node-linux-*.tgz)
  mv "$cache.part" "$cache"
fi
export PATH="$PWD/$cache/package/bin:$PATH"
echo "node $(node --version), the image's major"

unset TEST_REDIS_URL TEST_DATABASE_URL
npx vitest run tests/unit tests/http tests/security tests/integration/compiled-image.test.ts --exclude tests/security/login-timing.test.ts --exclude tests/http/admin-cli.test.ts </dev/null
npx vitest run --no-file-parallelism tests/cluster </dev/null
