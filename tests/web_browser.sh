#!/usr/bin/env bash
# web_browser.sh: the pages (issue 17). Run against a stack by tests/run-with-stack.sh
# (CR_BASE_URL) with tests/http/web_browser.sh.conf (QUEUE_ACTIVE_MAX=2; OPS_ALLOW narrowed to
# 127.0.0.1, so that 127.0.0.2, also a loopback address, plays a client from elsewhere):
#   1. what nginx serves: /, the page's modules, /ops -> /ops/, the dashboard and uPlot,
#      /metrics; and from any other address 403 FORBIDDEN (the contract's JSON) for /metrics,
#      /ops and /ops/..., whatever X-Forwarded-For says;
#   2. tests/web_browser.js in headless Chromium: a purchase, a lost hold, the dashboard.
# Writes only $CR_WEB_OUT (default: CR_BIN_DIR, the build dir): web-*.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${CR_SRC_DIR:-$(dirname "$here")}"
base="${CR_BASE_URL:?run me through tests/run-with-stack.sh (CR_BASE_URL)}"
export CR_WEB_OUT="${CR_WEB_OUT:-${CR_BIN_DIR:-$(pwd)}}"
export CR_TOOLS_DIR="${CR_TOOLS_DIR:-$src/tools}"
failed=0
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is not installed (scripts/test installs it)"; exit 1; }
for m in playwright-core uplot; do
  [ -d "$CR_TOOLS_DIR/node_modules/$m" ] \
    || { echo "FAIL: $CR_TOOLS_DIR/node_modules/$m missing: npm ci --prefix tools (cr_install_node_tools)"; exit 1; }
done
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cr-web.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

if [ "${CR_WEB_MODE:-}" = timed ]; then   # tests/web_browser_timed.sh: the page's timed wait only
  mkdir -p "$CR_WEB_OUT"
  exec node "$here/web_browser.js"
fi

check() {  # check PATH STATUS CONTENT-TYPE-PREFIX [curl args...]
  local p="$1" want="$2" ct="$3" got
  shift 3
  got="$(curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code} %{content_type}' "$@" "$base$p")" || { fail "GET $p: curl failed"; return; }
  case "$got" in
    "$want $ct"*) echo "ok: GET $p $* -> $got" ;;
    *) head -c 300 "$tmp/body" >&2; echo >&2; fail "GET $p $* -> '$got', want $want $ct" ;;
  esac
}
check / 200 text/html
grep -q 'src="/web/app.js"' "$tmp/body" || fail "/ is not web/index.html"
for f in app.js api.js queue.js seats.js wallet.js pay.js; do check "/web/$f" 200 application/javascript; done
check /web/style.css 200 text/css
check /ops 301 ""
grep -qi '^Location: .*/ops/' "$tmp/head" || fail "/ops does not redirect to /ops/"
check /ops/ 200 text/html
check /ops/ops.js 200 application/javascript
check /ops/uplot/uPlot.iife.min.js 200 application/javascript
check /ops/uplot/uPlot.min.css 200 text/css
check /metrics 200 "text/plain; version=0.0.4"
grep -q '^concert_http_requests_total{group="concert",code="200"} ' "$tmp/body" || fail "/metrics has no concert 200s"

# From another address: the contract's 403 FORBIDDEN, with a request id; no header helps.
for p in /metrics /ops /ops/ /ops/ops.js /ops/uplot/uPlot.iife.min.js; do
  for xff in "" "X-Forwarded-For: 127.0.0.1"; do
    check "$p" 403 application/json --interface 127.0.0.2 ${xff:+-H "$xff"} -H "X-Real-IP: 127.0.0.1"
    grep -q '"code":"FORBIDDEN"' "$tmp/body" && grep -qi '^X-Request-Id: ' "$tmp/head" \
      || fail "$p from 127.0.0.2: not the contract's FORBIDDEN: $(head -c 200 "$tmp/body")"
  done
done
# The fan's page is for anyone.
check / 200 text/html --interface 127.0.0.2

mkdir -p "$CR_WEB_OUT"
node "$here/web_browser.js" || failed=$((failed + 1))
echo "screenshots: $CR_WEB_OUT/web-*.png"
[ "$failed" = 0 ]
