#!/usr/bin/env bash
# Time to the first answer on a fresh clone: what a newcomer waits for after `git clone`.
#
# Clones this repository's committed HEAD into a temporary directory (so no .venv), runs
# ./scripts/serve there on a free port, polls GET /tmf-api/troubleTicket/v5/troubleTicket every
# 0.2 s and prints the seconds from the start of ./scripts/serve to the first 200. The clone is
# removed afterwards. pip's own caches are left as they are: run it twice and report both.
#
#   bench/first_answer.sh                  the committed scripts
#   bench/first_answer.sh --scripts DIR    DIR's files replace the clone's scripts/ first
#                                          (e.g. --scripts scripts: uncommitted changes)
#   TIMEOUT=900 bench/first_answer.sh      give up after that many seconds (default 600)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scripts=""
if [ "${1:-}" = "--scripts" ]; then
    scripts="$(cd "${2:?--scripts needs a directory}" && pwd)"
fi
timeout="${TIMEOUT:-600}"

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -- -"$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

git clone -q "$repo" "$work/repo"
if [ -n "$scripts" ]; then cp "$scripts"/* "$work/repo/scripts/"; fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port/tmf-api/troubleTicket/v5/troubleTicket"

cd "$work/repo"
start="$(date +%s.%N)"
# its own session, so that the server and everything it started are stopped together
setsid ./scripts/serve --port "$port" >"$work/serve.log" 2>&1 &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "./scripts/serve exited before answering:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    if python3 -c "import sys; sys.exit($(date +%s.%N) - $start < $timeout)"; then
        echo "no answer within ${timeout}s" >&2
        exit 1
    fi
    sleep 0.2
done
end="$(date +%s.%N)"
python3 -c "print(f'first answer after {$end - $start:.1f} s')"
