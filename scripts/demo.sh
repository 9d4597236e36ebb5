#!/usr/bin/env bash
# The README's first command: a local Redis + Sentinel set whose configs redis-init writes, three
# redis-sidecars keeping role labels + readiness in sync against the Kubernetes API double (its own
# process), a live table, then a measured Sentinel failover and planned handover.
#   bash scripts/demo.sh              scripted run, stops everything it started, exit 0 = all checks passed
#   bash scripts/demo.sh --keep       ... then keeps running for you to play with; Ctrl-C stops everything
#   bash scripts/demo.sh --no-table   plain line output (CI); automatic when stdout is not a terminal
# Addresses: Redis 127.0.1.1-3:6379, Sentinels 127.0.2.1-3:26379, API double http://127.0.3.1:8001 (it probes
# each sidecar's /readyz as the kubelet would, so it knows the master Service's ready endpoint), sidecars on their
# pods' addresses as in a pod: http://127.0.1.1-3:9180 (/livez /readyz /metrics) and :9181 (/handover).
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -t redis-sidecars-demo-build.XXXXXX)
pidfile=$(mktemp -t redis-sidecars-demo-pids.XXXXXX)
app=""

# Belt and braces: the demo stops what it started itself; if it was killed outright, stop whatever it
# recorded (pid + start time, so a reused pid is never hit) and remove its temp dir.
cleanup() {
  local rc=$?
  trap - INT TERM HUP
  if [ -n "$app" ] && kill -0 "$app" 2>/dev/null; then kill -TERM "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; fi
  if [ -s "$pidfile" ]; then
    while read -r kind a b; do
      case "$kind" in
        pid)
          if [ -r "/proc/$a/stat" ] && [ "$(sed 's/.*) //' "/proc/$a/stat" | cut -d' ' -f20)" = "$b" ]; then
            kill -CONT "$a" 2>/dev/null || true; kill -KILL "$a" 2>/dev/null || true
            echo "demo.sh: killed leftover process $a" >&2
          fi ;;
        dir) case "$a" in "${TMPDIR:-/tmp}"/redis-sidecars-*) rm -rf -- "$a" ;; esac ;;
      esac
    done < "$pidfile"
  fi
  rm -f -- "$pidfile" "$log"
  exit "$rc"
}
trap cleanup EXIT

step() { printf '==> %s\n' "$*"; }
quiet() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "demo.sh: failed: $*" >&2; exit 1; }; }

step "checking Redis, Sentinel and the build tools (scripts/install-deps.sh)"
bash scripts/install-deps.sh
step "publishing redis-init and redis-sidecar as Native AOT binaries (scripts/publish.sh; the first run takes a few minutes)"
quiet bash scripts/publish.sh
step "building the demo (demo/RedisSidecars.Demo)"
quiet dotnet build demo/RedisSidecars.Demo -c Release -nologo
step "starting"

# In the background so a signal to this script is forwarded at once (with a foreground child bash would wait).
# A background job starts with SIGINT ignored; env --default-signal undoes that, so a Ctrl-C reaches the demo
# directly (same process group) as well as through the trap. The demo stops everything in order.
run=(dotnet artifacts/bin/RedisSidecars.Demo/release/RedisSidecars.Demo.dll "$@")
if env --default-signal=INT true 2>/dev/null; then run=(env --default-signal=INT "${run[@]}"); fi
DEMO_PIDFILE="$pidfile" "${run[@]}" &
app=$!
trap 'kill -INT "$app" 2>/dev/null || true' INT
trap 'kill -TERM "$app" 2>/dev/null || true' TERM HUP
rc=0
wait "$app" || rc=$?
while kill -0 "$app" 2>/dev/null; do rc=0; wait "$app" || rc=$?; done
app=""
exit "$rc"
