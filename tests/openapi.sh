#!/bin/sh
# openapi.sh: lints docs/openapi.yaml with Redocly CLI (rules in docs/redocly.yaml).
# The linter lives in tools/node_modules (npm ci --prefix tools, run by scripts/lib.sh's
# cr_install_packages); CR_TOOLS_DIR names another tools folder (make distcheck passes the
# source tree's). Only reads: the source tree may be read-only.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
src="${CR_SRC_DIR:-$(dirname "$here")}"
tools="${CR_TOOLS_DIR:-$src/tools}"
redocly="$tools/node_modules/.bin/redocly"

if [ ! -x "$redocly" ] || ! command -v node >/dev/null 2>&1; then
  echo "FAIL: the OpenAPI linter is not installed ($redocly, node: $(command -v node || echo none))." >&2
  echo "      Run scripts/test or scripts/up (they run 'npm ci --prefix tools'), or set CR_TOOLS_DIR." >&2
  exit 1
fi

# No telemetry, no update check: the lint works offline.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1
export REDOCLY_TELEMETRY REDOCLY_SUPPRESS_UPDATE_NOTICE NO_COLOR
echo "redocly $("$redocly" --version) lint $src/docs/openapi.yaml"
cd "$src"   # relative file names in the report
exec "$redocly" lint --config docs/redocly.yaml docs/openapi.yaml
