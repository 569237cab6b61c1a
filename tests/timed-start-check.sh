#!/usr/bin/env bash
# timed-start-check.sh: a worker refuses to start in the timed mode without a signing key, or
# with one under 32 bytes (it exits 1 and says why, before it takes any request).
set -uo pipefail
bin="${CR_BIN_DIR:-.}/queue-fcgi"
fails=0
check() {  # check WANT_IN_MESSAGE KEYS
  local out rc
  out="$(CONCERT_CONFIG=/dev/null QUEUE_MODE=timed QUEUE_TOKEN_KEYS="$2" "$bin" </dev/null 2>&1)"
  rc=$?
  if [ "$rc" = 1 ] && [[ "$out" == *"$1"* ]]; then
    echo "ok: QUEUE_TOKEN_KEYS='${2:0:12}...' refused ($1)"
  else
    echo "FAIL: QUEUE_TOKEN_KEYS='${2:0:12}...': exit $rc, said: $out"; fails=$((fails + 1))
  fi
}
check "empty" ""
check "at least 32" "k1:0123456789012345678901234567890"  # 31 bytes
check "id:secret" "no-colon-here-0123456789012345678901234567890"
out="$(CONCERT_CONFIG=/dev/null QUEUE_MODE=fifo "$bin" </dev/null 2>&1)"
if [ $? = 1 ] && [[ "$out" == *"redis or timed"* ]]; then echo "ok: QUEUE_MODE=fifo refused"
else echo "FAIL: QUEUE_MODE=fifo: $out"; fails=$((fails + 1)); fi
[ "$fails" = 0 ]
