#!/usr/bin/env bash
# docs_screenshot.sh: /docs renders. Run against a stack by tests/run-with-stack.sh (CR_BASE_URL):
# nginx serves Swagger UI and docs/openapi.yaml, then headless Chromium (Debian's chromium)
# loads /docs/, takes a screenshot and dumps the rendered DOM, which must show one operation
# block (method + path) for every operation of docs/openapi.yaml.
# Writes only $CR_DOCS_OUT (default: CR_BIN_DIR, the build dir): docs.png, docs-dom.html.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${CR_SRC_DIR:-$(dirname "$here")}"
base="${CR_BASE_URL:?run me through tests/run-with-stack.sh (CR_BASE_URL)}"
out="${CR_DOCS_OUT:-${CR_BIN_DIR:-$(pwd)}}"
shot="$out/docs.png" dom="$out/docs-dom.html"

fail() { echo "FAIL: $*" >&2; exit 1; }
chromium="$(command -v chromium || true)"
[ -n "$chromium" ] || fail "chromium is not installed: run scripts/test or scripts/up (cr_install_packages installs it)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cr-docs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# 1. What nginx serves.
check() {  # check PATH STATUS CONTENT-TYPE-PREFIX
  local got
  got="$(curl -s -o "$tmp/body" -w '%{http_code} %{content_type}' "$base$1")" || fail "GET $1: curl failed"
  case "$got" in
    "$2 $3"*) echo "ok: GET $1 -> $got" ;;
    *) head -c 300 "$tmp/body" >&2; echo >&2; fail "GET $1 -> '$got', want $2 $3" ;;
  esac
}
check /docs 301 ""
check /docs/ 200 text/html
check /docs/swagger-initializer.js 200 application/javascript
check /docs/swagger-ui-bundle.js 200 application/javascript
check /docs/swagger-ui.css 200 text/css
check /docs/openapi.yaml 200 application/yaml
cmp -s "$tmp/body" "$src/docs/openapi.yaml" || fail "/docs/openapi.yaml is not $src/docs/openapi.yaml"
grep -q 'swagger-initializer.js' < <(curl -s "$base/docs/") || fail "/docs/ is not docs/swagger/index.html"
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/docs/swagger-ui-bundle.js")" != 200 ]; then
  fail "Swagger UI missing: run scripts/test or scripts/up (npm ci --prefix tools)"
fi

# 2. Headless Chromium: a screenshot and the DOM after the page's scripts ran.
run_chromium() {
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --mute-audio \
    --user-data-dir="$tmp/profile" --virtual-time-budget=10000 --window-size=1280,2000 \
    "$@" "$base/docs/" 2>>"$tmp/chromium.log"
}
mkdir -p "$out"
rm -f "$shot" "$dom"
run_chromium --screenshot="$shot" --dump-dom >"$dom" || { tail -n 20 "$tmp/chromium.log" >&2; fail "chromium failed"; }
[ -s "$shot" ] || { tail -n 20 "$tmp/chromium.log" >&2; fail "no screenshot written"; }

# 3. Every operation of the document is an opblock in the rendered page: "<div class="opblock
# opblock-post" id="operations-...">" followed by its summary's data-path="/api/v1/...".
want="$(awk '
  /^[^ #]/ { inpaths = ($0 ~ /^paths:[ \t]*$/); next }
  inpaths && /^  \/[^ ]*:[ \t]*$/ { p = $1; sub(/:$/, "", p); next }
  inpaths && /^    (get|put|post|delete|patch|head|options|trace):[ \t]*$/ {
    m = $1; sub(/:$/, "", m); print toupper(m) " " p }' "$src/docs/openapi.yaml" | sort)"
got="$(grep -o -E '<div class="opblock opblock-[a-z]+[^"]*" id="operations-[^"]*"|data-path="[^"]*"' "$dom" \
  | awk '/^<div/ { match($0, /opblock-[a-z]+/); m = toupper(substr($0, RSTART + 8, RLENGTH - 8)); next }
         /^data-path=/ && m != "" { p = $0; sub(/^data-path="/, "", p); sub(/"$/, "", p); print m " " p; m = "" }' \
  | sort)"
nwant="$(printf '%s\n' "$want" | grep -c . || true)"
ngot="$(printf '%s\n' "$got" | grep -c . || true)"
echo "document: $nwant operations; rendered: $ngot operation blocks"
[ "$nwant" -ge 16 ] || fail "found only $nwant operations in $src/docs/openapi.yaml"
grep -q 'class="opblock[^"]*"' "$dom" && grep -q '/api/v1/reservations' "$dom" \
  || fail "no operation blocks in the rendered page (see $dom, $shot)"
missing="$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got"))"
if [ -n "$missing" ]; then
  printf 'not rendered: %s\n' "$missing" >&2
  fail "the rendered /docs/ lacks operations (see $dom, $shot)"
fi
echo "screenshot: $shot"
echo "dom: $dom"
