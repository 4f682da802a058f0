# Sourced by the shell tests: $dir, a scratch folder removed at exit (after
# stopping the server in $serve_pid, when a test started one), and fail().
dir="$(mktemp -d)"
serve_pid=""
# The server is waited for: it takes SIGTERM at once and writes its views as
# it stops, which a removal running beside it would race ("Directory not
# empty").
cleanup() {
  if [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; then
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
