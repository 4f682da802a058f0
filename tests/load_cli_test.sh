#!/usr/bin/env bash
# casegrid-load against a server it spawns: a short run with writers and
# every kind of subscriber passes its own checks (exit 0, figures printed);
# a run interrupted with SIGINT stops early, fails as "interrupted", stops
# the server and removes its folder.
# Usage: load_cli_test.sh path/to/casegrid-load path/to/casegrid
set -euo pipefail
load="$1"
cg="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$load" --spawn "$cg" --temp-dir "$dir" --writers 4 --seconds 1 --dashboards 2 \
  --officers 2 --auditors 1 --settle-seconds 0.2 --drain-seconds 20 2>"$dir/short.err") ||
  fail "short run exited $?: $out $(tail -20 "$dir/short.err")"
for line in "http_appends_per_s: " "http_append_p99_ms: " "push_p99_ms_events: " "failures: 0"; do
  [[ "$out" == *"$line"* ]] || fail "no '$line' in: $out"
done
appends=$(sed -n 's/^http_appends_per_s: \([0-9]*\).*/\1/p' <<<"$out")
[ "${appends:-0}" -gt 0 ] || fail "no appends: $out"
[ -z "$(ls -A "$dir" | grep casegrid-load || true)" ] || fail "the short run left its folder"

"$load" --spawn "$cg" --temp-dir "$dir" --writers 4 --seconds 60 >"$dir/int.out" 2>"$dir/int.err" &
pid=$!
for _ in $(seq 100); do
  grep -q "writes .*/s" "$dir/int.err" 2>/dev/null && break
  sleep 0.1
done
server=$(sed -n 's/.*spawned casegrid serve, pid \([0-9]*\),.*/\1/p' "$dir/int.err")
[ -n "$server" ] || fail "no server pid: $(cat "$dir/int.err")"
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 1 ] || fail "interrupted run exited $status"
grep -q "FAILURE: interrupted" "$dir/int.out" || fail "no interrupted failure: $(cat "$dir/int.out")"
! kill -0 "$server" 2>/dev/null || fail "the spawned server $server still runs"
[ -z "$(ls -A "$dir" | grep casegrid-load || true)" ] || fail "the interrupted run left its folder"
echo "load_cli: ok"
