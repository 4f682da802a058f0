#!/usr/bin/env bash
# casegrid seed: a small demo city; the same seed and flags give the same log
# byte for byte (ids, times, hashes), another seed another log; the log
# verifies and its views rebuild; a log that has events is refused.
# Usage: seed_cli_test.sh path/to/casegrid
set -euo pipefail
cg="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
flags=(--days 3 --cases-per-day 20 --until 2026-11-01)

out=$("$cg" seed --data "$dir/a" --seed 7 "${flags[@]}" 2>"$dir/a.err") ||
  fail "seed exited $?: $(cat "$dir/a.err")"
[[ "$out" == *"cells: 36 (1 district, 4 areas, 8 groups, 23 clusters)"* ]] || fail "cells: $out"
for line in "people: " "cases: " "mediation: " "callbacks: " "deadlines missed: " "repeat disputes: "; do
  [[ "$out" == *"$line"* ]] || fail "no '$line' in the summary: $out"
done
[[ "$(cat "$dir/a.err")" == *"seeding $dir/a: seed 7, 3 days"* ]] || fail "progress line: $(cat "$dir/a.err")"
events=$(sed -n 's/^events: \([0-9]*\) in .*/\1/p' <<<"$out")
[ "${events:-0}" -gt 300 ] || fail "only ${events:-no} events: $out"

# The same seed and flags: the same log, byte for byte.
"$cg" seed --data "$dir/b" --seed 7 "${flags[@]}" >/dev/null 2>&1 || fail "second seed"
digest=$("$cg" digest --data "$dir/a")
[ "$digest" == "$("$cg" digest --data "$dir/b")" ] || fail "same seed, different heads"
"$cg" read --data "$dir/a" --limit 1000000 >"$dir/a.jsonl"
"$cg" read --data "$dir/b" --limit 1000000 >"$dir/b.jsonl"
cmp -s "$dir/a.jsonl" "$dir/b.jsonl" || fail "same seed, different events"

# Another seed: another city.
"$cg" seed --data "$dir/c" --seed 8 "${flags[@]}" >/dev/null 2>&1 || fail "seed 8"
[ "$digest" != "$("$cg" digest --data "$dir/c")" ] || fail "seeds 7 and 8 wrote the same log"

# Times follow the simulated days: case ids of 2026-10-29, the last event
# before --until; the deadline watch wrote what the plan's delays missed.
# (grep reads files here: with pipefail, `read | grep -q` can fail on SIGPIPE.)
grep -q '"stream":"case/C-20261029-000001","type":"CaseReported"' "$dir/a.jsonl" ||
  fail "no case C-20261029-000001"
[[ "$(tail -n 1 "$dir/a.jsonl")" == *'"recorded_at":"2026-10-31T'* ]] ||
  fail "last event: $(tail -n 1 "$dir/a.jsonl")"
grep -q '"type":"DeadlineApproaching"' "$dir/a.jsonl" || fail "no deadline warnings"

# The log is intact, a case replays, and the views rebuild from it.
[[ "$("$cg" verify --data "$dir/a")" == "intact: $events events"* ]] || fail "verify"
[[ "$("$cg" replay C-20261029-000001 --data "$dir/a")" == *"reported a"* ]] || fail "replay"
"$cg" rebuild --data "$dir/a" >"$dir/rebuild.out" 2>&1 || fail "rebuild: $(cat "$dir/rebuild.out")"
[ -d "$dir/a/views" ] || fail "rebuild left no views"
# tools/rebuild-ab, the alternating comparison docs/benchmarks.md uses
ab=$("$(dirname "$0")/../tools/rebuild-ab" "$cg" "$cg" "$dir/a" 1 2>&1) || fail "rebuild-ab: $ab"
[[ "$ab" == *"new won "*" of 1 pairs"* ]] || fail "rebuild-ab: $ab"
[ -d "$dir/a/views" ] || fail "rebuild-ab left no views"

# A log that has events is refused, and left as it was.
if err=$("$cg" seed --data "$dir/a" --seed 7 "${flags[@]}" 2>&1); then
  fail "seeding a log with events succeeded"
fi
[[ "$err" == *"already has $events events"* ]] || fail "refusal: $err"
[ "$digest" == "$("$cg" digest --data "$dir/a")" ] || fail "the refused seed changed the log"

# An empty log whose times were settled (a served one asked as_of a time,
# <log>/SETTLED) is refused, and nothing written: its events would all have
# been stamped in one millisecond past that time (review 107).
mkdir -p "$dir/s/log"
printf '\x00\x00\x01\xa1\x94\x67\xe8\x00\xff\xff\xfe\x5e\x6b\x98\x17\xff' >"$dir/s/log/SETTLED" # 2026-11-01
if err=$("$cg" seed --data "$dir/s" --seed 7 "${flags[@]}" 2>&1); then
  fail "seeding a log asked about as of 2026-11-01 succeeded"
fi
[[ "$err" == *"stamps nothing before 2026-11-01T00:00:00.000Z"* ]] || fail "refusal: $err"
[[ "$("$cg" digest --data "$dir/s" 2>&1)" == '{"position":0,'* ]] ||
  fail "the refused seed wrote: $("$cg" digest --data "$dir/s" 2>&1)"

# Flags out of range.
if "$cg" seed --data "$dir/d" --days 0 >/dev/null 2>&1; then fail "--days 0 accepted"; fi
# nan passes every comparison of a plain range check (it wrote a city of no cases)
for rate in nan NaN -nan inf 0.01; do
  if err=$("$cg" seed --data "$dir/d" --cases-per-day "$rate" 2>&1); then
    fail "--cases-per-day $rate accepted"
  fi
  [[ "$err" == *"is not a number from 0.1 to 5000"* ]] || fail "--cases-per-day $rate: $err"
  [ ! -e "$dir/d/log" ] || fail "--cases-per-day $rate wrote a log"
done
# an --until that is no date or past time is a command line refused: exit 2
status=0
err=$("$cg" seed --data "$dir/d" --until 2999-01-01 2>&1) || status=$?
[ "$status" -eq 2 ] && [[ "$err" == *"future"* ]] || fail "future --until: $status $err"
[[ "$err" != *"--until: --until"* ]] || fail "the flag named twice: $err"
status=0
err=$("$cg" seed --data "$dir/d" --until yesterday 2>&1) || status=$?
[ "$status" -eq 2 ] && [[ "$err" == *"--until"* ]] || fail "bad --until: $status $err"
# any RFC 3339 time, as as_of takes it: a short fraction, an offset
for until in 2026-11-01T08:00:00.5Z 2026-11-01T16:00:00+08:00; do
  "$cg" seed --data "$dir/until-$until" --days 1 --cases-per-day 2 --until "$until" >/dev/null 2>&1 ||
    fail "--until $until refused"
done
