#!/usr/bin/env bash
# serve and its file descriptors: connections take at most what `ulimit -n`
# leaves beside the stores' files (api/descriptor_budget.h). Clients past the
# bound wait in the kernel's backlog while the writers already connected go
# on (the stores keep the descriptors a flush needs: without the bound a
# flood of idle connections took them all, the views' next flush failed with
# "Too many open files" and serve stopped); the listener waits without
# spinning; the waiting clients are served once connections close. A limit
# too low for the stores is refused at start, saying what is needed.
# Usage: serve_fd_test.sh path/to/casegrid path/to/casegrid-load
set -euo pipefail
cg="$1"
load="$2"
source "$(dirname "$0")/support/shell_test.sh"
secret=serve-fd-test-secret-of-at-least-32-bytes
printf '%s' "$secret" >"$dir/secret"

# Too few descriptors: exit 1 before anything is opened, naming the need.
status=0
CASEGRID_JWT_SECRET=$secret prlimit --nofile=200 "$cg" serve --data "$dir/low" \
  --listen 127.0.0.1:0 >"$dir/low.out" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "serve with 200 descriptors exited $status: $(cat "$dir/low.out")"
grep -q "needs at least 272 file descriptors" "$dir/low.out" || fail "low: $(cat "$dir/low.out")"
[ ! -e "$dir/low" ] || fail "serve with too few descriptors made its data folder"
# More connections asked for than fit: refused the same way.
status=0
CASEGRID_JWT_SECRET=$secret prlimit --nofile=400 "$cg" serve --data "$dir/low" \
  --listen 127.0.0.1:0 --max-connections 145 >"$dir/low.out" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "--max-connections 145 of 144 exited $status: $(cat "$dir/low.out")"
grep -q "serving 145 connections needs at least 401" "$dir/low.out" || fail "$(cat "$dir/low.out")"

# 400 descriptors: 64 for each store's table files, 128 kept, 144 connections.
CASEGRID_JWT_SECRET=$secret prlimit --nofile=400 "$cg" serve --data "$dir/data" \
  --listen 127.0.0.1:0 --rate 1000000 --burst 1000000 >"$dir/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
[ -n "$port" ] || fail "serve did not start: $(cat "$dir/serve.out")"
metric() { curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
[ "$(metric casegrid_connections_bound)" = "144" ] || fail "bound: $(metric casegrid_connections_bound)"

# Writers connect, then 300 idle clients more than the bound leaves.
"$load" --url "127.0.0.1:$port" --jwt-secret-file "$dir/secret" --writers 8 --seconds 6 \
  >"$dir/load.out" 2>"$dir/load.err" &
load_pid=$!
for _ in $(seq 100); do grep -q "writes .*/s" "$dir/load.err" 2>/dev/null && break; sleep 0.1; done
# As many as the kernel's backlog holds past the bound (net.core.somaxconn,
# 4096 on Linux 5.4 and later, 128 before), so that none of them hangs.
idle=300
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 128)
[ "$idle" -le $((136 + somaxconn - 8)) ] || idle=$((136 + somaxconn - 8))
fds=()
for _ in $(seq "$idle"); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "could not connect"
  fds+=("$fd")
done
sleep 1
held=$(find "/proc/$serve_pid/fd" -mindepth 1 | wc -l)
# The connections (at most 144) and the stores' files: the 128 kept for the
# rest are never taken, whatever the clients do.
[ "$held" -le 272 ] || fail "serve holds $held of its 400 descriptors with $idle idle clients"
wait "$load_pid" || fail "the writers failed beside the idle clients: $(cat "$dir/load.out")"
grep -q "connection errors 0" "$dir/load.out" || fail "writers cut: $(cat "$dir/load.out")"
kill -0 "$serve_pid" 2>/dev/null || fail "serve stopped: $(cat "$dir/serve.out")"

# At the bound the listener waits: its io threads take next to no CPU (the
# views' thread may still be folding the writers' last events).
cpu_ticks() {
  local total=0 task
  for task in /proc/"$serve_pid"/task/*; do
    [ "$(cat "$task/comm")" = "cg-io" ] || continue
    total=$((total + $(awk '{ print $14 + $15 }' "$task/stat")))
  done
  echo "$total"
}
before=$(cpu_ticks)
sleep 2
used=$(($(cpu_ticks) - before))
hz=$(getconf CLK_TCK)
[ "$used" -lt "$hz" ] || fail "serve's io threads used $used ticks of CPU ($hz a second) at its bound"

for fd in "${fds[@]}"; do exec {fd}>&-; done
sleep 0.5
exec {probe}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&"$probe"
answer=$(timeout 5 head -n 1 <&"$probe") || fail "no answer once the idle clients left"
[[ "$answer" == "HTTP/1.1 200"* ]] || fail "healthz after: $answer"
exec {probe}>&-
[ "$(metric casegrid_connections_waited_total)" -ge 1 ] || fail "no wait counted"

kill -TERM "$serve_pid"
wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
serve_pid=""
echo "serve_fd_test: all passed"
