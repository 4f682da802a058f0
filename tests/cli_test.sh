#!/usr/bin/env bash
# The CLI verbs over a real store: append, read, tail, verify, digest, serve.
# Usage: cli_test.sh path/to/casegrid
set -euo pipefail
cg="$1"
source "$(dirname "$0")/support/shell_test.sh"
data="$dir/store"
report='{"kind":"dispute","channel":"walk_in","cell":"santai/a01","category":"neighbour","priority":"normal","summary":"water leak","reporter":{"name":"Li"}}'

# a case is reported into a defined cell, as at intake
if err=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type CaseReported \
         --json "$report" 2>&1); then fail "a report into an undefined cell was accepted"; fi
[[ "$err" == *"is not a defined cell"* ]] || fail "undefined cell message: $err"

# the grid, several events from stdin, all or nothing; each cell's in its own stream
printf '%s\n' '{"type":"GridCellDefined","id":"g1","data":{"cell":"santai","name":"Santai","level":1}}' |
  "$cg" append --data "$data" --stream grid/santai --events - >/dev/null
printf '%s\n' '{"type":"GridCellDefined","id":"g2","data":{"cell":"santai/a01","name":"A01","level":2}}' |
  "$cg" append --data "$data" --stream grid/santai/a01 --events - >/dev/null
if printf '%s\n' '{"type":"X","id":"g3","data":{}}' '{"type":"X","data":[1]}' |
   "$cg" append --data "$data" --stream grid/santai --events - 2>/dev/null; then
  fail "a batch with a bad line was accepted"
fi

# a path the file system cannot take, or a TMPDIR that is no folder: an error said, not an abort
long="$dir/$(printf 'x%.0s' $(seq 1 300))"
for verb in read digest rebuild; do
  status=0
  "$cg" "$verb" --data "$long" >/dev/null 2>"$dir/long.err" || status=$?
  [ "$status" -eq 1 ] || fail "$verb on a too-long path exited $status: $(cat "$dir/long.err")"
done
TMPDIR=/etc/passwd "$cg" digest --data "$data" >/dev/null 2>"$dir/tmpdir.err" ||
  fail "digest with TMPDIR=/etc/passwd: $(cat "$dir/tmpdir.err")"

# the server's own streams are its alone
for stream in alerts/officer-7 audit/auditor-1; do
  if err=$("$cg" append --data "$data" --stream "$stream" --type AlertAcknowledged \
           --json '{"alert":"1-new_case","by":"x"}' 2>&1); then fail "an append to $stream was accepted"; fi
  [[ "$err" == *"stream: "* ]] || fail "$stream message: $err"
done

# the engine's own actor is the engine's alone: an append in its name would
# pass for the deadline watch's facts
if err=$("$cg" append --data "$data" --stream import/x --type Imported --json '{"n":1}' \
         --actor system 2>&1); then fail "an append as system was accepted"; fi
[[ "$err" == *"--actor: system"* ]] || fail "--actor system message: $err"

# append one event, then a second with the right expected version
out=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type CaseReported \
      --id rep-1 --json "$report" --expected-version no_stream)
[[ "$out" == *'"first_position":3'* ]] || fail "first append: $out"
out=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type NoteAdded \
      --json '{"text":"called"}' --expected-version 1)
[[ "$out" == *'"last_version":2'* ]] || fail "second append: $out"

# a stale expected version is refused, names the actual version, exits 1
if err=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type NoteAdded \
         --json '{"text":"late"}' --expected-version 1 2>&1); then fail "stale append succeeded"; fi
[[ "$err" == *"at version 2"* ]] || fail "conflict message: $err"

# the same id again is answered with the original position and writes nothing
out=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type CaseReported \
      --id rep-1 --json "$report" --expected-version no_stream)
[[ "$out" == *'"first_position":3'*'"deduplicated":true'* ]] || fail "dedupe: $out"

# a case is reported once, its stream opens with the report, and holds the engine's types
if err=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type CaseReported \
         --json "$report" 2>&1); then fail "a second report was accepted"; fi
[[ "$err" == *"is reported already"* ]] || fail "second report message: $err"
if err=$("$cg" append --data "$data" --stream case/C-20261122-000009 --type NoteAdded \
         --json '{"text":"n"}' 2>&1); then fail "a note on a case never reported was accepted"; fi
[[ "$err" == *"was never reported"* ]] || fail "unreported message: $err"
if err=$("$cg" append --data "$data" --stream case/C-20261122-000001 --type Imported \
         --json '{}' 2>&1); then fail "a foreign type in a case stream was accepted"; fi
[[ "$err" == *"events[0].type"* ]] || fail "foreign type message: $err"

# the grid's rules, as its commands keep them
grid_refused() {  # $1: what, $2 the event line, $3 what the error says, $4 the stream
  if out=$(printf '%s\n' "$2" | "$cg" append --data "$data" --stream "$4" --events - 2>&1); then
    fail "$1 was accepted"
  fi
  [[ "$out" == *"$3"* ]] || fail "$1: $out"
}
grid_refused "an unknown role" \
  '{"type":"OfficerAssignedToCell","data":{"cell":"santai/a01","officer":"o1","role":"admin"}}' 'role' \
  grid/santai/a01
grid_refused "an assignment to a cell not defined" \
  '{"type":"OfficerAssignedToCell","data":{"cell":"santai/nowhere","officer":"o1","role":"officer"}}' \
  'no cell santai/nowhere' grid/santai/nowhere
grid_refused "a cell defined twice" '{"type":"GridCellDefined","data":{"cell":"santai/a01","name":"A","level":2}}' \
  'already defined' grid/santai/a01
grid_refused "a removal of whom the cell has not" \
  '{"type":"OfficerRemovedFromCell","data":{"cell":"santai/a01","officer":"o9","role":"officer"}}' \
  'is not assigned to santai/a01' grid/santai/a01
grid_refused "a type of no grid's" '{"type":"Frob","data":{"text":"x"}}' 'unknown event type' grid/santai
grid_refused "a note in a grid stream" '{"type":"NoteAdded","data":{"text":"x"}}' 'grid stream holds' \
  grid/santai
grid_refused "a cell without its parent" \
  '{"type":"GridCellDefined","data":{"cell":"santai/b/c","name":"C","level":3}}' 'parent' grid/santai/b/c
# a cell's events in another cell's stream (the commands would not find them there)
grid_refused "a cell defined in another's stream" \
  '{"type":"GridCellDefined","data":{"cell":"santai/a02","name":"A2","level":2}}' \
  'is not the cell of grid/santai' grid/santai
grid_refused "an assignment in another cell's stream" \
  '{"type":"OfficerAssignedToCell","data":{"cell":"santai/a01","officer":"o1","role":"officer"}}' \
  'is not the cell of grid/santai' grid/santai
# a new cell and its people in one atomic append (another store: the counts below are this one's)
printf '%s\n' '{"type":"GridCellDefined","data":{"cell":"santai","name":"S","level":1}}' \
  '{"type":"OfficerAssignedToCell","data":{"cell":"santai","officer":"o1","role":"officer"}}' |
  "$cg" append --data "$dir/grid-store" --stream grid/santai --events - >/dev/null ||
  fail "a batch defining a cell and assigning to it was refused"

# data of the engine's own event types is checked, as through the API
if err=$("$cg" append --data "$data" --stream grid/x --type GridCellDefined --json '{"cell":"x"}' 2>&1); then
  fail "a GridCellDefined without a name was accepted"
fi
[[ "$err" == *"name: missing"* ]] || fail "validation message: $err"

# read: the whole log, a stream backward
[ "$("$cg" read --data "$data" | wc -l)" -eq 4 ] || fail "read all"
first=$("$cg" read --data "$data" --stream case/C-20261122-000001 --backward --limit 1)
[[ "$first" == *'"version":2'*'"hash":"'* ]] || fail "read backward: $first"

# digest and verify agree on the head
digest=$("$cg" digest --data "$data")
[[ "$digest" == '{"position":4,"hash":"'* ]] || fail "digest: $digest"
verify=$("$cg" verify --data "$data") || fail "verify of an intact log failed: $verify"
hash=${digest#*\"hash\":\"}; hash=${hash%\"*}
[[ "$verify" == "intact: 4 events, head hash $hash" ]] || fail "verify: $verify"

# tail follows appends made by another process (after the head digest named: a tail
# left to find "the head now" could start after the first append, slow under ASan)
"$cg" tail --data "$data" --after 4 --max 2 --poll-ms 20 > "$dir/tail.out" &
tail_pid=$!
sleep 0.5
"$cg" append --data "$data" --stream case/C-20261122-000002 --type CaseReported --json "$report" >/dev/null
"$cg" append --data "$data" --stream case/C-20261122-000002 --type NoteAdded --json '{"text":"n"}' >/dev/null
for _ in $(seq 100); do kill -0 "$tail_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$tail_pid" 2>/dev/null && { kill "$tail_pid"; fail "tail did not see two new events"; }
wait "$tail_pid"
[ "$(grep -c '"stream":"case/C-20261122-000002"' "$dir/tail.out")" -eq 2 ] || fail "tail output"

# an engine event is stored as the engine writes it, as over HTTP: an empty
# `parties` is written as absent (review 114: the CLI kept `[]`, so the same
# report had two forms in the log)
# (a store of its own: the counts below are the first store's)
encoded="$dir/encoded"
"$cg" append --data "$encoded" --stream grid/santai --type GridCellDefined \
  --json '{"cell":"santai","name":"Santai","level":1}' >/dev/null
"$cg" append --data "$encoded" --stream grid/santai/a01 --type GridCellDefined \
  --json '{"cell":"santai/a01","name":"A01","level":2}' >/dev/null
"$cg" append --data "$encoded" --stream case/C-20261122-000001 --type CaseReported \
  --json "${report%\}},\"parties\":[]}" >/dev/null
stored=$("$cg" read --data "$encoded" --stream case/C-20261122-000001)
[[ "$stored" == *'"summary":"water leak"'* && "$stored" != *parties* ]] ||
  fail "an empty parties stored: $stored"

# a local day offset outside -12..14 is refused before anything is opened
if err=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes "$cg" serve --data "$data" \
         --listen 127.0.0.1:0 --day-offset-hours 15 2>&1); then fail "serve took a day offset of 15"; fi
[[ "$err" == *"--day-offset-hours"* ]] || fail "day offset message: $err"

# while serve holds the store, a second writer is refused clearly; reads work
CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes "$cg" serve --data "$data" --listen 127.0.0.1:0 \
  --day-offset-hours 8 --metrics-listen 127.0.0.1:0 > "$dir/serve.out" &
serve_pid=$!
for _ in $(seq 300); do grep -q "metrics on" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q "serving" "$dir/serve.out" || fail "serve did not start in 30 s"
# --metrics-listen: a second port with /metrics and /healthz, and nothing else
metrics_port=$(grep -o 'metrics on http://127.0.0.1:[0-9]*/metrics' "$dir/serve.out" | cut -d: -f3 | cut -d/ -f1)
[ -n "$metrics_port" ] || fail "serve did not say its metrics port: $(cat "$dir/serve.out")"
get() {  # get PORT PATH: the whole answer
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$2" >&3
  cat <&3
  exec 3<&-
}
out=$(get "$metrics_port" /metrics)
[[ "$out" == "HTTP/1.1 200 "* && "$out" == *"casegrid_http_requests_total"* ]] || fail "metrics port: $out"
[[ "$(get "$metrics_port" /healthz)" == "HTTP/1.1 200 "* ]] || fail "metrics port healthz"
out=$(get "$metrics_port" /api/v1/dashboard/)
[[ "$out" == "HTTP/1.1 404 "* && "$out" == *"/metrics only"* ]] || fail "metrics port served the API: $out"
if err=$("$cg" append --data "$data" --stream import/x --type X --json '{}' 2>&1); then
  fail "append while serve runs succeeded"
fi
[[ "$err" == *"another process"* ]] || fail "lock message: $err"
# a store whose lock the file system refuses is not said to be in use: its reason is named
mkdir -p "$dir/unlockable/log/LOCK"
echo MANIFEST-000001 >"$dir/unlockable/log/CURRENT"  # a store there: the lock is tried first
if err=$("$cg" rebuild --data "$dir/unlockable" 2>&1); then fail "rebuild opened an unlockable store"; fi
[[ "$err" != *"another process"* && "$err" == *"Is a directory"* ]] || fail "unlockable store: $err"
[ "$("$cg" read --data "$data" | wc -l)" -eq 6 ] || fail "read while serving"
# a second serve on the port in use fails before it opens anything
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.out" | head -1 | cut -d: -f3)
[ -n "$port" ] || fail "serve did not say its port: $(cat "$dir/serve.out")"
out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes timeout 10 \
      "$cg" serve --data "$dir/never" --listen "127.0.0.1:$port" 2>&1) && fail "serve took a port in use"
[[ "$out" == *"cannot listen on 127.0.0.1:$port"* ]] || fail "port in use: $out"
[ ! -e "$dir/never" ] || fail "serve on a port in use created its data folder"
out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes timeout 10 \
      "$cg" serve --data "$dir/never" --listen 127.0.0.1:0 --metrics-listen "127.0.0.1:$metrics_port" 2>&1) &&
  fail "serve took a metrics port in use"
[[ "$out" == *"--metrics-listen: cannot listen on 127.0.0.1:$metrics_port"* ]] || fail "metrics port in use: $out"
[ ! -e "$dir/never" ] || fail "serve on a metrics port in use created its data folder"
kill -TERM "$serve_pid"; wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
serve_pid=""
# --listen's own port for --metrics-listen (two bound sockets not yet
# listening may share it): refused before anything is opened
for metrics_host in 127.0.0.1 0.0.0.0; do
  out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes timeout 10 "$cg" serve --data "$dir/never" \
        --listen "127.0.0.1:$metrics_port" --metrics-listen "$metrics_host:$metrics_port" 2>&1) &&
    fail "serve took --listen's port for --metrics-listen $metrics_host"
  [[ "$out" == *"--metrics-listen: cannot listen on $metrics_host:$metrics_port: it is --listen's port"* ]] ||
    fail "--metrics-listen on --listen's port: $out"
  [ ! -e "$dir/never" ] || fail "serve with --listen's port for --metrics-listen created its data folder"
done

# serve kept the views; a rebuild from the log equals them and takes their place
out=$("$cg" rebuild --data "$data" 2>/dev/null) || fail "rebuild: $out"
[[ "$out" == *"rebuilt 6 events"*"equal to the live views at position 6"* ]] || fail "rebuild: $out"
[ -d "$data/views" ] && [ ! -e "$data/views.rebuild" ] || fail "rebuild left the folders wrong"
# keeping one case state in memory folds more, and gives the same views
out=$("$cg" rebuild --data "$data" --cached-cases 1 2>/dev/null) || fail "rebuild --cached-cases 1: $out"
[[ "$out" == *"equal to the live views at position 6"* ]] || fail "rebuild --cached-cases 1: $out"
out=$("$cg" rebuild --data "$data" --cached-cases 0 2>&1) && fail "rebuild --cached-cases 0 was taken: $out"
[[ "$out" == *"cached-cases"* ]] || fail "rebuild --cached-cases 0: $out"
# an empty log/ folder holds no log: rebuild makes none (probe 98)
mkdir -p "$dir/empty/log"
out=$("$cg" rebuild --data "$dir/empty" 2>&1) && fail "rebuild took an empty log folder: $out"
[[ "$out" == *"no log at"* ]] || fail "rebuild of an empty log folder: $out"
[ ! -e "$dir/empty/log/CURRENT" ] && [ ! -e "$dir/empty/views" ] || fail "rebuild made a store"
# views that are a file are said before the rebuild, not after its success line
cp -r "$data" "$dir/views-file" && rm -rf "$dir/views-file/views" && echo file >"$dir/views-file/views"
out=$("$cg" rebuild --data "$dir/views-file" 2>&1) && fail "rebuild took views that are a file: $out"
[[ "$out" == *"not a folder"* && "$out" != *"rebuilt"* ]] || fail "rebuild, views a file: $out"

# read and tail refuse flags they would ignore or misread
for args in "--stream case/C-20261122-000001 --after 1" "--backward" "--from 2"; do
  out=$("$cg" read --data "$data" $args 2>&1) && fail "read took $args"
done
out=$("$cg" tail --data "$data" --after -5 --max 1 2>&1) && fail "tail took --after -5"
for args in "--after -5" "--limit -1" "--limit 0"; do
  out=$("$cg" read --data "$data" $args 2>&1) && fail "read took $args"
done
out=$("$cg" tail --data "$data" --poll-ms -5 --max 1 2>&1) && fail "tail took --poll-ms -5"

# serve refuses a port that is not one before it opens anything, as a
# command line it cannot take: exit 2 (it was 1, a verb's failure)
for listen in 127.0.0.1:abc 127.0.0.1:99999 127.0.0.1:-1 127.0.0.1:18105x 127.0.0.1: localhost:0 \
              999.1.1.1:0 :0 127.0.0.1; do
  status=0
  out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes \
        "$cg" serve --data "$dir/never" --listen "$listen" 2>&1) || status=$?
  [ "$status" -eq 2 ] || fail "serve --listen $listen exited $status: $out"
  [[ "$out" == *"is not a number from 0 to 65535"* || "$out" == *"is not an IP address"* ||
     "$out" == *"is not HOST:PORT"* ]] || fail "--listen $listen: $out"
  status=0
  out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes \
        "$cg" serve --data "$dir/never" --listen 127.0.0.1:0 --metrics-listen "$listen" 2>&1) || status=$?
  [ "$status" -eq 2 ] || fail "serve --metrics-listen $listen exited $status: $out"
  [[ "$out" == *"--metrics-listen"* ]] || fail "--metrics-listen $listen: $out"
done
[ ! -e "$dir/never" ] || fail "serve with a bad --listen created its data folder"

# serve refuses a bound that would disable itself or break the server, before it opens anything
for flag in "--rate 0" "--rate -5" "--rate nan" "--rate inf" "--burst 0" "--ws-idle-timeout 0" \
            "--ws-idle-timeout -1" "--ws-max-message-bytes 0" "--ws-queue-messages 0" \
            "--ws-queue-bytes 0" "--ws-per-token 0" "--ws-max-subscriptions 0" "--max-body-bytes 0" \
            "--deadline-accept -10" "--deadline-callback 0"; do
  # shellcheck disable=SC2086  # the flag and its value are two words
  status=0
  out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes \
        timeout 10 "$cg" serve --data "$dir/never" --listen 127.0.0.1:0 $flag 2>&1) || status=$?
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "serve took $flag (exit $status)"
  [[ "$out" == *"${flag%% *}"* ]] || fail "serve $flag: $out"
done
[ ! -e "$dir/never" ] || fail "serve with a bad bound created its data folder"

# serve without a secret (nor --dev) refuses to start before it opens anything
out=$(env -u CASEGRID_JWT_SECRET timeout 10 "$cg" serve --data "$dir/never" --listen 127.0.0.1:0 2>&1) &&
  fail "serve started without a secret"
[[ "$out" == *"--dev"* ]] || fail "no secret: $out"
[ ! -e "$dir/never" ] || fail "serve without a secret created its data folder"

# a mistyped --data is refused, not made into a second, empty log
for args in "serve" "seed" "append --stream s/x --type T"; do
  # shellcheck disable=SC2086  # the verb and its arguments are words
  status=0
  out=$(CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes \
        timeout 10 "$cg" $args --data "$dir/no/such/data" 2>&1) || status=$?
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "$args took a mistyped --data"
  [[ "$out" == *"nor its parent"* ]] || fail "$args --data typo: $out"
done
[ ! -e "$dir/no" ] || fail "a mistyped --data was created"
touch "$dir/a-file"
out=$("$cg" append --data "$dir/a-file/data" --stream s/x --type T 2>&1) && fail "append under a file"
[[ "$out" == *"is not a folder"* ]] || fail "--data under a file: $out"
# a folder of something else (the log's own, one of other files) is refused
# too: serve made log/ and views/ among its files and served an empty log
# (black-box probe 73); a casegrid data folder, an empty one, and one with
# only lost+found (a fresh volume) are taken
mkdir -p "$dir/other" "$dir/volume/lost+found" "$dir/empty"
touch "$dir/other/notes.txt"
for folder in "$data/log" "$dir/other"; do
  out=$("$cg" append --data "$folder" --stream s/x --type T --json '{}' 2>&1) &&
    fail "append took $folder"
  [[ "$out" == *"but no log/: not a casegrid data folder"* ]] || fail "--data $folder: $out"
done
[ ! -e "$data/log/log" ] && [ ! -e "$dir/other/log" ] || fail "a log was made in a foreign folder"
for folder in "$data" "$dir/volume" "$dir/empty"; do
  "$cg" append --data "$folder" --stream note/x --type T --json '{}' >/dev/null ||
    fail "append refused $folder"
done
out=$("$cg" append --data "" --stream s/x --type T 2>&1) && fail "append took an empty --data"
[[ "$out" == *"not an empty path"* ]] || fail "empty --data: $out"

# a member sent twice in an --events line (or its data) is refused, not resolved
out=$(printf '%s\n' '{"type":"T","data":{"a":1},"data":{"b":2}}' |
      "$cg" append --data "$data" --stream note/x --events - 2>&1) && fail "a repeated member was taken"
[[ "$out" == *"duplicate key"* ]] || fail "repeated member: $out"
out=$(printf '%s\n' '{"type":"T","data":{"a":1,"a":2}}' |
      "$cg" append --data "$data" --stream note/x --events - 2>&1) && fail "a repeated data member was taken"

# append: --expected-version is any, no_stream, exists or digits (0 = no stream); an events line
# holds type, id and data; tail refuses to start past the head
for v in -1 " 2" 18446744073709551616 2x ""; do
  out=$("$cg" append --data "$data" --stream note/x --type T --expected-version "$v" 2>&1) &&
    fail "append took --expected-version '$v'"
  [[ "$out" == *"--expected-version must be"* ]] || fail "--expected-version '$v': $out"
done
out=$("$cg" append --data "$data" --stream note/zero --type T --expected-version 0) ||
  fail "append --expected-version 0 (no stream): $out"
out=$("$cg" append --data "$data" --stream note/zero --type T --expected-version 0 2>&1) &&
  fail "a second --expected-version 0 was taken"
out=$(printf '%s\n' '{"type":"T","data":{},"extra":1}' |
      "$cg" append --data "$data" --stream note/x --events - 2>&1) && fail "an unknown member was taken"
[[ "$out" == *"extra: unknown member"* ]] || fail "unknown member: $out"
out=$("$cg" append --data "$data" --stream note/x --events "$dir" 2>&1) && fail "a folder of events was taken"
[[ "$out" == *"is a folder, not a file of events"* ]] || fail "--events folder: $out"
out=$("$cg" append --data "$data" --stream note/x --type "" 2>&1) && fail "an empty --type was taken"
[[ "$out" == *"--type: an event type is not empty"* ]] || fail "empty --type: $out"
head=$("$cg" digest --data "$data" | sed 's/.*"position":\([0-9]*\).*/\1/')
out=$("$cg" tail --data "$data" --after $((head + 5)) --max 1 2>&1) && fail "tail started past the head"
[[ "$out" == *"beyond the log's head ($head)"* ]] || fail "tail past the head: $out"
out=$("$cg" read --data "$data" --stream "" 2>&1) && fail "read took an empty --stream"

# token: scope is never granted by default or by a typo
export CASEGRID_JWT_SECRET=cli-test-secret-of-at-least-32-bytes
out=$("$cg" token --sub a --role officer 2>&1) && fail "a token without --cells was minted"
[[ "$out" == *"--cells is required"* ]] || fail "token without --cells: $out"
for cells in "santai/a,," "santai/a,,santai/b" ",santai/a" "santai/a, santai/b"; do
  out=$("$cg" token --sub a --role officer --cells "$cells" 2>&1) && fail "token took --cells '$cells'"
  [[ "$out" == *"cell"* ]] || fail "token --cells '$cells': $out"
done
out=$("$cg" token --sub "" --role officer --cells "" 2>&1) && fail "a token with an empty sub"
out=$("$cg" token --sub " " --role officer --cells "" 2>&1) && fail "a token with a blank sub"
out=$("$cg" token --sub a --role officer --cells "" --ttl 99999999999999999999d 2>&1) &&
  fail "an overflowing ttl was taken"
[[ "$out" == *"at most 366d"* ]] || fail "token --ttl overflow: $out"
"$cg" token --sub a --role officer --cells santai/a,santai/b --ttl 366d >/dev/null || fail "token"
for ttl in " 8h" "+8h" "08h" "8h " "-8h" "0h" "8"; do
  out=$("$cg" token --sub a --role officer --cells "" --ttl "$ttl" 2>&1) && fail "token took --ttl '$ttl'"
  [[ "$out" == *"ttl: like 8h"* ]] || fail "token --ttl '$ttl': $out"
done
# what it mints a server takes: no token past 8192 bytes (256 realistic cells make one)
many=$(for i in $(seq 256); do printf 'santai/tongchuan/g%d/c%d,' "$i" "$i"; done)
out=$("$cg" token --sub a --role officer --cells "${many%,}" 2>&1) && fail "a 9 KB token was minted"
[[ "$out" == *"more than the 8192 a server takes"* ]] || fail "long token: $out"
unset CASEGRID_JWT_SECRET

# an unsigned flag takes no sign: CLI11 read "-1" as 2^64-1 (tail --max -1 never ended), and
# no number past its largest, which it capped ("--seed 18446744073709551616" seeded the log of
# 2^64-1); a command line it cannot take is exit 2
max64=18446744073709551615
for flags in "read --stream case/x --from -1" "read --after -5" "tail --max -1" "seed --seed -1" \
  "seed --seed 1x" "seed --seed 18446744073709551616" "tail --max 99999999999999999999999" \
  "read --after 99999999999999999999999" "read --stream case/x --from 18446744073709551616" \
  "tail --after -1@9223372036854775807" "tail --after 18446744073709551616@9223372036854775807"; do
  max=${flags#*@}
  [ "$max" = "$flags" ] && max=$max64
  flags=${flags%@*}
  status=0
  # shellcheck disable=SC2086
  out=$(timeout 10 "$cg" $flags --data "$dir/unsigned" 2>&1) || status=$?
  [ "$status" -eq 2 ] || fail "$flags exited $status: $out"
  [[ "$out" == *"is not a whole number from 0 to $max"* ]] || fail "$flags: $out"
done
[ ! -e "$dir/unsigned" ] || fail "a refused flag made a data folder"
status=0
out=$("$cg" seed --data "$dir/unsigned" --until '' 2>&1) || status=$?
[ "$status" -eq 2 ] && [[ "$out" == *"leave --until out for now"* ]] || fail "--until '': $out"
[ ! -e "$dir/unsigned" ] || fail "a refused --until made a data folder"
status=0
out=$("$cg" nosuchverb 2>&1) || status=$?
[ "$status" -eq 2 ] && [[ "$out" == *"no verb nosuchverb"* ]] || fail "unknown verb: $status $out"
status=0
"$cg" verify --bogus >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "verify --bogus exited $status (1 says the log is broken)"
# no store there: verify cannot check, which is not a broken log (1)
status=0
err=$("$cg" verify --data "$dir/no-such-folder" 2>&1) || status=$?
[ "$status" -eq 3 ] && [[ "$err" == *"no store"* ]] || fail "verify of no store: $status $err"
"$cg" --help >/dev/null || fail "--help is not exit 0"

# read: a position past the head is refused as tail refuses it; --from starts at 1; a read
# cut at --limit says so on stderr
"$cg" seed --data "$dir/readlog" --seed 3 --days 1 --cases-per-day 5 --until 2026-11-01 >/dev/null 2>&1 ||
  fail "seed for read"
head=$("$cg" digest --data "$dir/readlog" | sed 's/.*"position":\([0-9]*\).*/\1/')
out=$("$cg" read --data "$dir/readlog" --after $((head + 1)) 2>&1) && fail "read past the head: $out"
[[ "$out" == *"beyond the log's head ($head)"* ]] || fail "read past the head: $out"
"$cg" read --data "$dir/readlog" --after "$head" 2>&1 | grep -q . && fail "read at the head printed"
out=$("$cg" read --data "$dir/readlog" --stream grid/santai --from 0 2>&1) && fail "--from 0: $out"
[[ "$out" == *"versions start at 1"* ]] || fail "--from 0: $out"
lines=$("$cg" read --data "$dir/readlog" --limit 3 2>"$dir/read.err" | wc -l)
[ "$lines" -eq 3 ] || fail "read --limit 3 printed $lines"
grep -q "stopped at --limit 3; the log goes on after 3" "$dir/read.err" || fail "$(cat "$dir/read.err")"
# a stream cut at --limit says where it goes on, either way it is read
"$cg" read --data "$dir/readlog" --stream grid/santai --limit 1 >/dev/null 2>"$dir/read.err"
grep -q "the stream may go on (read --from 2)" "$dir/read.err" || fail "$(cat "$dir/read.err")"
versions=$("$cg" read --data "$dir/readlog" --stream grid/santai --limit 1000 | wc -l)
if [ "$versions" -gt 2 ]; then
  "$cg" read --data "$dir/readlog" --stream grid/santai --backward --limit 1 >/dev/null \
    2>"$dir/read.err"
  grep -q "(read --backward --from $((versions - 1)))" "$dir/read.err" ||
    fail "backward: $(cat "$dir/read.err")"
fi
"$cg" read --data "$dir/readlog" --after $((head - 2)) >/dev/null 2>"$dir/read.err"
[ ! -s "$dir/read.err" ] || fail "a read to the head said: $(cat "$dir/read.err")"

# a last group torn by a power cut (its length in the WAL, its bytes zeros) and not yet
# durable by the writer's mark: the next writer drops it, keeps its bytes, and says so
torn="$dir/torn"
for n in 1 2 3; do
  "$cg" append --data "$torn" --stream import/t --type Imported --json "{\"n\":$n}" >/dev/null
done
wal=$(ls "$torn"/log/*.log | sort | tail -1)  # the newest: the third append's group alone
size=$(stat -c %s "$wal")
dd if=/dev/zero of="$wal" bs=1 seek=20 count=$((size - 20)) conv=notrunc status=none
printf '\x00\x00\x00\x00\x00\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xfd' >"$torn/log/DURABLE"
out=$("$cg" append --data "$torn" --stream import/t --type Imported --json '{"n":4}' 2>"$dir/torn.err") ||
  fail "append after a torn group: $(cat "$dir/torn.err")"
[[ "$out" == *'"first_position":3'* ]] || fail "append after a torn group: $out"
grep -q "last group was cut short by a crash ($size bytes" "$dir/torn.err" ||
  fail "torn group message: $(cat "$dir/torn.err")"
grep -q "opens at position 2" "$dir/torn.err" || fail "torn group message: $(cat "$dir/torn.err")"
ls "$torn"/log/*.log.torn-* >/dev/null 2>&1 || fail "the torn bytes were not kept"
"$cg" verify --data "$torn" >/dev/null || fail "verify after a torn group"

echo "cli_test: all passed"
