#!/usr/bin/env bash
# serve gives freed memory back: tcmalloc keeps what it frees, and one burst
# of large answers set serve's resident size for the rest of its life (63 MB
# grew to 1.5 GB and stayed, idle; black-box probe 72). Every 10 s, free
# memory past 64 MiB now goes back to the system (tools/cli/free_memory.h).
# Not in the sanitizer builds, which do not link tcmalloc.
# Usage: serve_memory_test.sh path/to/casegrid
set -euo pipefail
cg="$1"
source "$(dirname "$0")/support/shell_test.sh"
export CASEGRID_JWT_SECRET=serve-memory-test-secret-of-at-least-32-bytes

# Large answers are not charged against the rate here: 30 at once.
"$cg" serve --data "$dir/data" --listen 127.0.0.1:0 --answer-bytes-per-request 1073741824 \
  > "$dir/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "serving" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
[ -n "$port" ] || fail "serve did not start: $(cat "$dir/serve.out")"
admin=$("$cg" token --sub admin-1 --role admin --cells "" --ttl 1h)
operator=$("$cg" token --sub operator-1 --role operator --cells "" --ttl 1h)

# One request on a fresh connection; prints the status line.
request() {  # method target token body
  exec {c}<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\nContent-Length: %s\r\n\r\n%s' \
    "$1" "$2" "$3" "${#4}" "$4" >&"$c"
  local status
  status=$(head -n 1 <&"$c")
  cat <&"$c" > /dev/null
  exec {c}>&-
  echo "$status"
}
[[ $(request POST /api/v1/grid/cells "$admin" '{"cell":"santai","name":"Santai"}') == *" 201 "* ]] ||
  fail "the cell"
body='{"kind":"dispute","channel":"walk_in","cell":"santai","category":"c","priority":"normal","summary":"s","reporter":{"name":"Li"}}'
reported=$(request POST /api/v1/cases "$operator" "$body")
[[ "$reported" == *" 201 "* ]] || fail "the case: $reported"
# The case's id, from the case list.
exec {c}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$operator" >&"$c"
case_id=$(cat <&"$c" | grep -o 'C-[0-9]\{8\}-[0-9]\{6\}' | head -1)
exec {c}>&-
[ -n "$case_id" ] || fail "no case id"

# 8 MB of notes, 200 to an append.
text=$(printf 'n%.0s' $(seq 4000))
for _ in $(seq 10); do
  events=""
  for _ in $(seq 200); do events+="{\"type\":\"NoteAdded\",\"data\":{\"text\":\"$text\"}},"; done
  answer=$(request POST "/api/v1/streams/case/$case_id" "$admin" \
    "{\"expected_version\":\"any\",\"events\":[${events%,}]}")
  [[ "$answer" == *" 200 "* ]] || fail "notes: $answer"
done

rss_mb() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$serve_pid/status"; }
before=$(rss_mb)
# 30 histories of 8 MB at once.
for _ in $(seq 30); do request GET "/api/v1/cases/$case_id/history" "$operator" "" > /dev/null & done
wait $(jobs -p | grep -v "^$serve_pid$") 2>/dev/null || true
peak=$(rss_mb)
[ "$peak" -gt $((before + 100)) ] || fail "the answers did not take memory: $before MB, then $peak MB"
# Within two of its 10 s periods, what was freed goes back.
for _ in $(seq 50); do
  [ "$(rss_mb)" -lt $((before + 100)) ] && break
  sleep 0.5
done
after=$(rss_mb)
[ "$after" -lt $((before + 100)) ] || fail "resident $before MB, $peak MB after the answers, still $after MB"
echo "serve_memory_test: all passed ($before MB, $peak MB with the answers, $after MB after)"
