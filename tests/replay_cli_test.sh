#!/usr/bin/env bash
# casegrid replay over a real store: the timeline in words, --as-of, unknown cases.
# Usage: replay_cli_test.sh path/to/casegrid path/to/legacy_appender
set -euo pipefail
cg="$1"
legacy="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$dir/store"
stream=case/C-20261122-000001

# the grid first (positions 1-4): a case is reported into a defined cell
level=0
for cell in santai santai/tongchuan santai/tongchuan/a03 santai/tongchuan/a03/g12; do
  level=$((level + 1))
  "$cg" append --data "$data" --stream "grid/$cell" --type GridCellDefined \
    --json "{\"cell\":\"$cell\",\"name\":\"${cell##*/}\",\"level\":$level}" >/dev/null
done
"$cg" append --data "$data" --stream "$stream" --expected-version no_stream --actor officer-7 \
  --type CaseReported --json '{"kind":"dispute","channel":"walk_in","cell":"santai/tongchuan/a03/g12",
    "category":"neighbour","priority":"normal","summary":"Water leaking from upstairs",
    "reporter":{"name":"Li Wei"},"accept_due_at":"2026-11-22T12:31:02.123Z"}' >/dev/null
"$cg" append --data "$data" --stream "$stream" --expected-version 1 --actor dispatcher \
  --type CaseAssigned --json '{"assignee":"officer-7"}' >/dev/null

out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$out" == *"reported a dispute (walk_in) in santai/tongchuan/a03/g12: Water leaking"* ]] ||
  fail "report line: $out"
[[ "$out" == *"assigned to officer-7"* ]] || fail "assign line: $out"
[[ "$out" == *"assigned · tier 1 · assignee officer-7"* ]] || fail "state after assign: $out"
[[ "$out" == *"open deadlines: accept due "* ]] || fail "open deadlines: $out"

# as of position 5: the report only
out=$("$cg" replay C-20261122-000001 --data "$data" --as-of 5) || fail "--as-of 5 exited $?"
[[ "$out" == *"reported a dispute"* ]] || fail "--as-of 5 lost the report: $out"
[[ "$out" != *"assigned to officer-7"* ]] || fail "--as-of 5 shows a later event: $out"

# as of a time: now shows everything; before the case it did not exist yet;
# the future and a position past the head are refused, as the API refuses them
sleep 1
out=$("$cg" replay C-20261122-000001 --data "$data" --as-of "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
[[ "$out" == *"assigned to officer-7"* ]] || fail "--as-of time: $out"
if err=$("$cg" replay C-20261122-000001 --data "$data" --as-of 2999-01-01T00:00:00Z 2>&1); then
  fail "--as-of in the future succeeded: $err"
fi
[[ "$err" == *"in the future"* ]] || fail "--as-of in the future: $err"
[[ "$err" != *"--as-of: --as-of"* ]] || fail "the flag named twice: $err"
if err=$("$cg" replay C-20261122-000001 --data "$data" --as-of 99999 2>&1); then
  fail "--as-of past the head succeeded: $err"
fi
[[ "$err" == *"beyond the log's head"* ]] || fail "--as-of past the head: $err"
if err=$("$cg" replay C-20261122-000001 --data "$data" --as-of 2000-01-01T00:00:00Z 2>&1); then
  fail "--as-of before the case succeeded: $err"
fi
[[ "$err" == *"no events at or before"* ]] || fail "--as-of before the case: $err"
# an --as-of that is no position or past time is a command line refused: exit 2
for bad in yesterday "" 2999-01-01T00:00:00Z; do
  status=0
  err=$("$cg" replay C-20261122-000001 --data "$data" --as-of "$bad" 2>&1) || status=$?
  [ "$status" -eq 2 ] || fail "--as-of '$bad' exited $status: $err"
done
err=$("$cg" replay C-20261122-000001 --data "$data" --as-of yesterday 2>&1) || true
[[ "$err" == *"--as-of"* ]] || fail "bad --as-of message: $err"
err=$("$cg" replay C-20261122-000001 --data "$data" --as-of "" 2>&1) || true
[[ "$err" == *"a position or an RFC 3339 time"* ]] || fail "empty --as-of message: $err"
# a time with an offset is that instant in UTC
out=$("$cg" replay C-20261122-000001 --data "$data" --as-of "$(date -u -d '+8 hours' +%Y-%m-%dT%H:%M:%S)+08:00")
[[ "$out" == *"assigned to officer-7"* ]] || fail "--as-of time with an offset: $out"
[[ "$out" == *"Z)"* && "$out" != *"+08:00"* ]] || fail "--as-of is not said in UTC: $out"

# an unknown case is exit 1 with a clear message
if err=$("$cg" replay C-20261122-000999 --data "$data" 2>&1); then fail "unknown case succeeded"; fi
[[ "$err" == *"no case C-20261122-000999"* ]] || fail "unknown case message: $err"

# a deadline missed stays on record once the step is done late, as in the case view
"$cg" append --data "$data" --stream "$stream" --expected-version 2 --actor casegrid \
  --type DeadlineMissed --json '{"deadline":"accept","due_at":"2026-11-22T12:31:02.123Z"}' >/dev/null
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$out" == *"missed: accept"* ]] || fail "the miss: $out"
"$cg" append --data "$data" --stream "$stream" --expected-version 3 --actor officer-7 \
  --type CaseAccepted --json '{"by":"officer-7"}' >/dev/null
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$(tail -n 1 <<<"$out")" == *"in_progress"*"missed: accept due 2026-11-22T12:31:02.123Z (met late)"* ]] ||
  fail "the miss after a late accept: $out"

# every miss stays on record with its due time, as the case view's `misses`
# (black-box probe 71: a second resolution's callback dropped the first
# callback's miss, and two misses of one deadline read as one)
append() {  # version type json
  "$cg" append --data "$data" --stream "$stream" --expected-version "$1" --actor officer-7 \
    --type "$2" --json "$3" >/dev/null
}
append 4 CaseResolved '{"resolution":"mediated_agreement","summary":"agreed"}'
append 5 CallbackScheduled '{"due_at":"2026-11-23T09:00:00.000Z"}'
append 6 DeadlineMissed '{"deadline":"callback","due_at":"2026-11-23T09:00:00.000Z"}'
append 7 CallbackCompleted '{"speed":"dissatisfied","attitude":"neutral","outcome":"dissatisfied","comment":"late"}'
append 8 CaseReopened '{"reason":"came back"}'
append 9 CaseResolved '{"resolution":"mediated_agreement","summary":"agreed"}'
append 10 CallbackScheduled '{"due_at":"2026-11-24T09:00:00.000Z"}'
# the first callback's miss stays, and met late (the callback was made)
# stays said once a new callback takes the deadline's place (review 73)
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$(tail -n 1 <<<"$out")" == *"missed: accept due 2026-11-22T12:31:02.123Z (met late), callback due 2026-11-23T09:00:00.000Z (met late)"* ]] ||
  fail "the first callback's miss after a new callback: $out"
# and the new callback is owed: open, as the deadline watch warns of it
# (black-box probe 79: a deadline missed, then moved, read "open deadlines: none")
[[ "$(tail -n 1 <<<"$out")" == *"open deadlines: callback due 2026-11-24T09:00:00.000Z"* ]] ||
  fail "the new callback is not open: $out"
append 11 DeadlineMissed '{"deadline":"callback","due_at":"2026-11-24T09:00:00.000Z"}'
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$(tail -n 1 <<<"$out")" == *"callback due 2026-11-23T09:00:00.000Z (met late), callback due 2026-11-24T09:00:00.000Z"* ]] ||
  fail "two misses of the callback: $out"
# a miss repeated changes nothing, and says so; one a millisecond later counts
append 12 DeadlineMissed '{"deadline":"callback","due_at":"2026-11-24T09:00:00.000Z"}'
append 13 DeadlineMissed '{"deadline":"callback","due_at":"2026-11-24T09:00:00.001Z"}'
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$out" == *"missed (due 2026-11-24T09:00:00.000Z), a miss on record already: changes nothing"* ]] ||
  fail "a repeated miss: $out"
[[ "$(tail -n 1 <<<"$out")" == *"callback due 2026-11-24T09:00:00.000Z, callback due 2026-11-24T09:00:00.001Z"* ]] ||
  fail "a miss 1 ms later: $out"
# a DeadlineMet of a deadline missed already (a raw append's) changes nothing,
# and says so, as the fold reads it (review 80)
append 14 DeadlineMet '{"deadline":"callback","due_at":"2026-11-24T09:00:00.001Z"}'
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$out" == *"met (due 2026-11-24T09:00:00.001Z), no such deadline open: changes nothing"* ]] ||
  fail "a DeadlineMet of a missed deadline: $out"

# a second report, which older builds' append could write, changes nothing
# and says so: the case stays in its cell (review 96: it read as the case
# reported anew in another cell)
"$legacy" "$data/log" "$stream" CaseReported '{"kind":"dispute","channel":"walk_in",
  "cell":"santai/tongchuan","category":"neighbour","priority":"normal","summary":"again",
  "reporter":{"name":"Li Wei"},"accept_due_at":"2026-11-22T12:31:02.123Z"}' ||
  fail "legacy_appender exited $?"
out=$("$cg" replay C-20261122-000001 --data "$data") || fail "replay exited $?"
[[ "$out" == *"in santai/tongchuan: again, a second report: changes nothing (the case stays in santai/tongchuan/a03/g12)"* ]] ||
  fail "a second report: $out"

# any position of the log is a position: past the head is the store's answer
# (exit 1, as read --after); past 2^64-1 is no position (exit 2); leading
# zeros are said without
for far in 10000000000000000000 18446744073709551615; do
  status=0
  err=$("$cg" replay C-20261122-000001 --data "$data" --as-of "$far" 2>&1) || status=$?
  [ "$status" -eq 1 ] && [[ "$err" == *"beyond the log's head"* ]] ||
    fail "--as-of $far exited $status: $err"
done
status=0
err=$("$cg" replay C-20261122-000001 --data "$data" --as-of 18446744073709551616 2>&1) || status=$?
[ "$status" -eq 2 ] && [[ "$err" == *"out of range"* ]] || fail "--as-of 2^64 exited $status: $err"
out=$("$cg" replay C-20261122-000001 --data "$data" --as-of 0006) || fail "--as-of 0006 exited $?"
[[ "$out" == *"(as of 6)"* ]] || fail "--as-of 0006: $out"

# a miss of a deadline the case never had set (a raw import) is on record too
"$cg" append --data "$data" --stream case/C-20261122-000002 --expected-version no_stream \
  --actor officer-7 --type CaseReported --json '{"kind":"dispute","channel":"walk_in",
    "cell":"santai/tongchuan/a03/g12","category":"neighbour","priority":"normal",
    "summary":"Noise","reporter":{"name":"Li Wei"}}' >/dev/null
"$cg" append --data "$data" --stream case/C-20261122-000002 --expected-version 1 --actor casegrid \
  --type DeadlineMissed --json '{"deadline":"accept","due_at":"2026-11-22T12:31:02.123Z"}' >/dev/null
out=$("$cg" replay C-20261122-000002 --data "$data") || fail "replay exited $?"
[[ "$(tail -n 1 <<<"$out")" == *"missed: accept"* ]] || fail "a miss without a due time: $out"

echo "replay_cli_test: all passed"
