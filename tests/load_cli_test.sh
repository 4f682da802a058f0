#!/usr/bin/env bash
# casegrid-load against a server it spawns: a short run with writers and
# every kind of subscriber passes its own checks (exit 0, figures printed);
# a run interrupted with SIGINT stops early, fails as "interrupted", stops
# the server and removes its folder; the folder of a run killed with SIGKILL
# is removed by the next run, while a running one's is kept. Against a
# running server (--url): the report gives the server's counts over the run,
# and a server that goes away mid-run shows in the progress lines and the
# report. --url without a scheme, with a plainly written port.
# Usage: load_cli_test.sh path/to/casegrid-load path/to/casegrid
set -euo pipefail
load="$1"
cg="$2"
source "$(dirname "$0")/support/shell_test.sh"  # $dir, $serve_pid, fail()

out=$("$load" --spawn "$cg" --temp-dir "$dir" --writers 4 --seconds 1 --dashboards 2 \
  --officers 2 --auditors 1 --settle-seconds 0.2 --drain-seconds 20 2>"$dir/short.err") ||
  fail "short run exited $?: $out $(tail -20 "$dir/short.err")"
for line in "http_appends_per_s: " "http_append_p99_ms: " "push_p99_ms_events: " "failures: 0"; do
  [[ "$out" == *"$line"* ]] || fail "no '$line' in: $out"
done
appends=$(sed -n 's/^http_appends_per_s: \([0-9]*\).*/\1/p' <<<"$out")
[ "${appends:-0}" -gt 0 ] || fail "no appends: $out"
[ -z "$(ls -A "$dir" | grep casegrid-load || true)" ] || fail "the short run left its folder"

# --url $1 is refused as a flag error (exit 2), saying $2.
expect_url_refused() {
  local status=0
  CASEGRID_JWT_SECRET=x "$load" --url "$1" --writers 1 --seconds 1 >/dev/null 2>"$dir/url.err" ||
    status=$?
  [ "$status" -eq 2 ] || fail "--url $1 exited $status: $(cat "$dir/url.err")"
  grep -q "$2" "$dir/url.err" || fail "--url $1: $(cat "$dir/url.err")"
}
# A --url whose port is not a port, written plainly, is refused (exit 2), not an abort.
for url in 127.0.0.1:abc 127.0.0.1:99999 127.0.0.1: 127.0.0.1:0 127.0.0.1:019400 127.0.0.1:+80 \
  "127.0.0.1: 80" 127.0.0.1:00080; do
  expect_url_refused "$url" "port of 1-65535"
done
# A --url with a scheme says that it takes none (it tried to resolve "http").
for url in http://127.0.0.1:19400 ws://127.0.0.1:19400/ws; do
  expect_url_refused "$url" "without a scheme"
done

# A bad flag is a run that cannot be set up: exit 2, nothing measured.
for flags in "--writers -1" "--seconds 0" "--seconds -1" "--notes-per-case -1" "--notes-per-case 9000" \
  "--rate-per-writer -5" "--seconds nan" "--seconds inf" "--rate-per-writer nan" \
  "--drain-seconds nan" "--settle-seconds inf" "--url 127.0.0.1:1"; do
  status=0
  # shellcheck disable=SC2086
  "$load" --spawn "$cg" $flags >/dev/null 2>"$dir/flag.err" || status=$?
  [ "$status" -eq 2 ] || fail "$flags exited $status: $(cat "$dir/flag.err")"
done

# --url: the server's counts in the report are this run's, not its totals.
# Two runs against one server: the second's totals less its share are at
# least the first's totals (the counters only grow).
secret="load-cli-test-secret-of-at-least-32-bytes"
printf '%s' "$secret" >"$dir/secret"
CASEGRID_JWT_SECRET="$secret" "$cg" serve --data "$dir/data" --listen 127.0.0.1:0 \
  --ws-per-token 100000 --rate 1000000 --burst 1000000 >"$dir/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
[ -n "$port" ] || fail "serve did not start: $(cat "$dir/serve.out")"
url_run() {  # $1: name; prints "share total" of messages pushed
  "$load" --url "127.0.0.1:$port" --jwt-secret-file "$dir/secret" --writers 2 --seconds 1 \
    --rate-per-writer 20 --dashboards 2 --settle-seconds 0.1 --drain-seconds 20 \
    >"$dir/$1.out" 2>"$dir/$1.err" || fail "--url run $1 exited $?: $(cat "$dir/$1.out")"
  sed -n 's/.*over this run the server counted [0-9]* slow closes and \([0-9]*\) messages pushed.*since it started: [0-9]* and \([0-9]*\)).*/\1 \2/p' \
    "$dir/$1.out"
}
read -r share1 total1 <<<"$(url_run url1)"
read -r share2 total2 <<<"$(url_run url2)"
if [ -z "$share1" ] || [ -z "$share2" ]; then
  fail "no run's share of the counts: $(cat "$dir/url1.out" "$dir/url2.out")"
fi
[ "$share2" -gt 0 ] || fail "the second run pushed nothing: $(cat "$dir/url2.out")"
if [ $((total2 - share2)) -lt "$total1" ] || [ "$total1" -lt "$share1" ]; then
  fail "shares $share1, $share2 of totals $total1, $total2"
fi

# The server gone mid-run: the progress lines count connection errors, no
# client is said to have resumed, and the drain is not reported as done.
"$load" --url "127.0.0.1:$port" --jwt-secret-file "$dir/secret" --writers 2 --seconds 4 \
  --rate-per-writer 20 --dashboards 2 --auditors 1 --settle-seconds 0.1 \
  >"$dir/gone.out" 2>"$dir/gone.err" &
gone_pid=$!
for _ in $(seq 100); do grep -q "writes .*/s" "$dir/gone.err" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
serve_pid=""
status=0
wait "$gone_pid" || status=$?
[ "$status" -eq 1 ] || fail "the run whose server went exited $status: $(cat "$dir/gone.out")"
grep -q "connection errors [1-9]" "$dir/gone.err" || fail "no connection errors shown: $(cat "$dir/gone.err")"
grep -q "not drained: " "$dir/gone.out" || fail "drain said done: $(cat "$dir/gone.out")"
grep -q " 0 resumed" "$dir/gone.out" || fail "resumes said: $(cat "$dir/gone.out")"

start_run() {  # $1: name; sets run_pid and run_server
  "$load" --spawn "$cg" --temp-dir "$dir" --writers 2 --seconds 60 >"$dir/$1.out" 2>"$dir/$1.err" &
  run_pid=$!
  for _ in $(seq 100); do
    grep -q "writes .*/s" "$dir/$1.err" 2>/dev/null && break
    sleep 0.1
  done
  run_server=$(sed -n 's/.*spawned casegrid serve, pid \([0-9]*\),.*/\1/p' "$dir/$1.err")
  [ -n "$run_server" ] || fail "no server pid for $1: $(cat "$dir/$1.err")"
}
start_run int
pid=$run_pid server=$run_server
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 1 ] || fail "interrupted run exited $status"
grep -q "FAILURE: interrupted" "$dir/int.out" || fail "no interrupted failure: $(cat "$dir/int.out")"
! kill -0 "$server" 2>/dev/null || fail "the spawned server $server still runs"
[ -z "$(ls -A "$dir" | grep casegrid-load || true)" ] || fail "the interrupted run left its folder"
# A run killed with SIGKILL cannot remove its folder; the next run does,
# once that run's process is gone, and keeps the folder of one still running.
start_run alive
alive=$run_pid alive_server=$run_server
start_run killed
killed=$run_pid killed_server=$run_server
kill -KILL "$killed"
wait "$killed" 2>/dev/null || true
for _ in $(seq 300); do kill -0 "$killed_server" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$killed_server" 2>/dev/null || fail "the killed run's server $killed_server still runs"
[ "$(ls -A "$dir" | grep -c casegrid-load)" -eq 2 ] || fail "expected two run folders: $(ls -A "$dir")"
"$load" --spawn "$cg" --temp-dir "$dir" --writers 2 --seconds 0.5 --settle-seconds 0.1 \
  >"$dir/next.out" 2>"$dir/next.err" || fail "next run exited $?: $(tail -20 "$dir/next.err")"
grep -q "left by a casegrid-load that is gone" "$dir/next.err" || fail "no removal said: $(cat "$dir/next.err")"
[ "$(ls -A "$dir" | grep -c casegrid-load)" -eq 1 ] || fail "expected the running one's folder only: $(ls -A "$dir")"
kill -INT "$alive"
wait "$alive" || true
! kill -0 "$alive_server" 2>/dev/null || fail "the spawned server $alive_server still runs"
[ -z "$(ls -A "$dir" | grep casegrid-load || true)" ] || fail "a run left its folder"
echo "load_cli: ok"
