#!/usr/bin/env bash
# Builds the libFuzzer harnesses (address sanitizer) and runs each for SECONDS (default 60),
# starting from the seed corpora in Corpus/. Fails on any crash, leak or sanitizer report.
#   Fuzz/fuzz.sh [SECONDS] [HARNESS ...]     e.g.  Fuzz/fuzz.sh 600 FuzzTraceReader
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzTraceReader FuzzVLLMDecoder FuzzPrefixIndex FuzzTokenizer FuzzTemplate)
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -gnone -Xswiftc -use-ld=lld)
for h in "${harnesses[@]}"; do
  if ! swift build "${flags[@]}" --product "$h" >/tmp/kvcache-fuzz-build.log 2>&1; then
    echo "fuzz: building $h failed:" >&2
    grep -E "error|warning" /tmp/kvcache-fuzz-build.log | head -20 >&2
    exit 1
  fi
done
bin=$(swift build "${flags[@]}" --show-bin-path)
# a crash's backtracer could hold the pipe for minutes; libFuzzer reports the crash itself
export SWIFT_BACKTRACE=enable=no
status=0
for h in "${harnesses[@]}"; do
  work=$(mktemp -d)
  cp -r "Corpus/$h" "$work/corpus"
  log="$work/log"
  extra=() asan=${ASAN_OPTIONS:-}
  # The tokenizers' pipeline and the templates' syntax trees live in multi-payload enums, whose
  # payload pointers carry tag bits that LeakSanitizer does not take for pointers: it would
  # report the fixtures loaded at startup as leaked.
  case "$h" in FuzzTokenizer | FuzzTemplate) extra=(-detect_leaks=0); asan=detect_leaks=0 ;; esac
  if ASAN_OPTIONS=$asan "$bin/$h" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 "${extra[@]}" \
       -artifact_prefix="$work/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    echo "fuzz: $h: $runs executions in ${seconds} s, 0 crashes"
  else
    status=1
    echo "fuzz: $h: FAILED (artifacts and log in $work)"
    grep -E "ERROR|SUMMARY|Fatal error|==[0-9]+==" "$log" | head -20
  fi
done
exit $status
