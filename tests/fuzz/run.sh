#!/usr/bin/env bash
# run.sh SECONDS CORPUS_DIR PROGRAM...: runs each libFuzzer target for SECONDS against a fresh
# copy of CORPUS_DIR/<target>/ (fuzz_json -> json), in fuzz-out/ of the current (build) folder.
# Prints one line per target (runs, exec/s, coverage, corpus growth); on a crash, leak or UB,
# prints the report and where the input was saved, and exits 1 after all targets ran.
set -u
secs="$1" corpus="$2"; shift 2
rc=0
mkdir -p fuzz-out
for prog in "$@"; do
  name="${prog##*/fuzz_}"
  out="fuzz-out/$name"
  rm -rf "$out" && mkdir -p "$out/corpus" "$out/findings"
  cp "$corpus/$name"/* "$out/corpus/" || { echo "fuzz $name: no seed corpus in $corpus/$name" >&2; rc=1; continue; }
  seeds=$(ls "$out/corpus" | wc -l)
  # -timeout: one input taking 10 s is a finding (a hang); leaks are checked at exit (ASan).
  "$prog" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/findings/" "$out/corpus" >"$out.log" 2>&1
  st=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out.log")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out.log")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out.log" | tail -n 1)
  now=$(ls "$out/corpus" | wc -l)
  if [ "$st" -eq 0 ] && [ -z "$(ls -A "$out/findings")" ]; then
    printf 'fuzz %-8s ok: %s runs in %s s, %s exec/s, %s, corpus %s -> %s\n' \
      "$name" "${runs:-?}" "$secs" "${eps:-?}" "${cov:-cov: ?}" "$seeds" "$now"
  else
    printf 'fuzz %-8s FINDING (exit %s); report in %s, input in %s:\n' "$name" "$st" "$out.log" "$out/findings"
    grep -E -A 30 '^==[0-9]+==ERROR|runtime error|invariant broken|ERROR: libFuzzer' "$out.log" | head -n 60
    ls -l "$out/findings"
    rc=1
  fi
done
exit "$rc"
