#!/usr/bin/env bash
# serve walks the log's hash chain in the background (--verify-every-hours)
# and reports damage no read has met: on stderr and in /metrics, serving on.
# Usage: scrub_cli_test.sh path/to/casegrid path/to/log_damager
set -euo pipefail
cg="$1"
damager="$2"
source "$(dirname "$0")/support/shell_test.sh"
export CASEGRID_JWT_SECRET=scrub-cli-test-secret-of-at-least-32-bytes

# GET /metrics, one walk's lines
scrub_metrics() {
  exec {m}<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&"$m"
  grep '^casegrid_log_scrub' <&"$m" || true
  exec {m}>&-
}
# Starts serve on $dir/data, waits for its port and its first walk.
start_serve() {
  "$cg" serve --data "$dir/data" --listen 127.0.0.1:0 "$@" > "$dir/serve.out" 2>&1 &
  serve_pid=$!
  for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
  [ -n "$port" ] || fail "serve did not start: $(cat "$dir/serve.out")"
  for _ in $(seq 100); do
    scrub_metrics "$port" | grep -q '^casegrid_log_scrub_walks_total 1' && return
    sleep 0.1
  done
  fail "no walk finished: $(scrub_metrics "$port")"
}
stop_serve() {
  kill -TERM "$serve_pid"; wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
  serve_pid=""
}

# a fixed past, so that the damage below lands in the same place every run
"$cg" seed --data "$dir/data" --days 3 --until 2026-11-01 > /dev/null
head=$("$cg" digest --data "$dir/data" | grep -o '"position":[0-9]*' | cut -d: -f2)

# an intact log: one walk to the head, no damage (the deadline watch may
# write misses at start, before the walk begins)
start_serve
out=$(scrub_metrics "$port")
[[ "$out" == *"casegrid_log_scrub_damaged 0"* ]] || fail "intact: $out"
checked=$(grep -o 'casegrid_log_scrub_checked_position [0-9]*' <<< "$out" | cut -d' ' -f2)
[ "$checked" -ge "$head" ] || fail "intact: checked $checked of $head"
stop_serve

# a bit flipped late in the events' table file: serve starts (nothing it
# reads at start is there), and its walk finds it
"$damager" "$dir/data/log" 0.9
start_serve
out=$(scrub_metrics "$port")
[[ "$out" == *"casegrid_log_scrub_damaged 1"* ]] || fail "damaged: $out"
checked=$(grep -o 'casegrid_log_scrub_checked_position [0-9]*' <<< "$out" | cut -d' ' -f2)
[ "$checked" -lt "$head" ] || fail "checked $checked of $head despite the damage"
grep -q "the log is damaged at position $((checked + 1)): " "$dir/serve.out" ||
  fail "stderr: $(cat "$dir/serve.out")"
exec {h}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&"$h"
answer=$(timeout 5 head -n 1 <&"$h") || fail "no answer after the damage was found"
[[ "$answer" == "HTTP/1.1 200"* ]] || fail "healthz: $answer"
exec {h}>&-
stop_serve

# a bit flipped in the streams' index (the events intact): verify exits 1
# naming it (it said "intact" while a case's history answered 500; black-box
# probe 73); serve's walk reports it too (LogScrubTest)
"$cg" seed --data "$dir/index" --days 3 --until 2026-11-01 > /dev/null
index_head=$("$cg" digest --data "$dir/index" | grep -o '"position":[0-9]*' | cut -d: -f2)
"$damager" "$dir/index/log" 0.05 stream_index
status=0
"$cg" verify --data "$dir/index" > "$dir/verify.out" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "verify of a damaged index exited $status: $(cat "$dir/verify.out")"
grep -q "^damaged: the streams' index of positions (family stream_index) cannot be read: .*; the events are intact up to position $index_head\$" "$dir/verify.out" ||
  fail "verify: $(cat "$dir/verify.out")"

# --verify-every-hours 0: no walk
"$cg" serve --data "$dir/data" --listen 127.0.0.1:0 --verify-every-hours 0 > "$dir/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
sleep 1
out=$(scrub_metrics "$port")
[[ "$out" == *"casegrid_log_scrub_walks_total 0"* ]] || fail "walked with 0 hours: $out"
stop_serve
grep -q "damaged" "$dir/serve.out" && fail "reported damage without a walk"

for flag in "--verify-every-hours -1" "--verify-every-hours nan" "--verify-events-per-second 0"; do
  # shellcheck disable=SC2086  # the flag and its value are two words
  out=$(timeout 10 "$cg" serve --data "$dir/never" --listen 127.0.0.1:0 $flag 2>&1) &&
    fail "serve took $flag"
  [[ "$out" == *"${flag%% *}"* ]] || fail "serve $flag: $out"
done
echo "scrub_cli_test: all passed"
