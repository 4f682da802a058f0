#!/usr/bin/env bash
# serve out of file descriptors: more clients than it may open files wait in
# the kernel's backlog; the listener retries after a pause instead of
# spinning an io thread on EMFILE (it took 3.8 s of CPU in 3 s), and serves
# again once descriptors are free.
# Usage: serve_fd_test.sh path/to/casegrid
set -euo pipefail
cg="$1"
source "$(dirname "$0")/support/shell_test.sh"

CASEGRID_JWT_SECRET=serve-fd-test-secret-of-at-least-32-bytes \
  prlimit --nofile=64 "$cg" serve --data "$dir/data" --listen 127.0.0.1:0 > "$dir/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
[ -n "$port" ] || fail "serve did not start: $(cat "$dir/serve.out")"

# CPU seconds serve has used (utime + stime, in clock ticks)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$serve_pid/stat"; }

fds=()
for _ in $(seq 100); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "could not connect"
  fds+=("$fd")
done
sleep 0.5
before=$(cpu_ticks)
sleep 2
used=$(( $(cpu_ticks) - before ))
hz=$(getconf CLK_TCK)
# A spin takes a core (2 s of CPU in these 2 s); waiting takes next to none.
[ "$used" -lt "$hz" ] || fail "serve used $used ticks of CPU ($hz a second) while out of descriptors"

for fd in "${fds[@]}"; do exec {fd}>&-; done
sleep 0.5
exec {probe}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&"$probe"
answer=$(timeout 5 head -n 1 <&"$probe") || fail "no answer once descriptors were free"
[[ "$answer" == "HTTP/1.1 200"* ]] || fail "healthz after: $answer"
exec {probe}>&-

kill -TERM "$serve_pid"; wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
serve_pid=""
echo "serve_fd_test: all passed"
