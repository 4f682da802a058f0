# Sourced by the shell tests: $dir, a scratch folder removed at exit (after
# stopping the server in $serve_pid, when a test started one), and fail().
dir="$(mktemp -d)"
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
