# Sourced by scripts/images.sh and scripts/test.sh: makes Docker Engine available and stops exactly what it started.
#   docker_ensure_installed   apt-get install docker.io (and debootstrap, for the stand-in base images) when missing
#   docker_ensure_running     starts dockerd when no daemon answers; remembers its pid in DOCKERD_STARTED_PID
#   docker_stop_if_started    stops that dockerd (and the containerd it started), nothing else; call it from an EXIT trap
# Needs root (or sudo) only when something has to be installed or started.

DOCKERD_STARTED_PID=""
DOCKERD_LOG=""

_docker_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Alive and not a zombie (a dockerd that is this shell's own child stays a zombie until waited for).
_docker_alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

docker_ensure_installed() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker >/dev/null 2>&1 || need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  if [ ${#need[@]} -gt 0 ]; then
    # shellcheck disable=SC2207
    need=($(printf '%s\n' "${need[@]}" | sort -u))
    echo "installing: ${need[*]}"
    _docker_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _docker_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

docker_ensure_running() {
  if docker info >/dev/null 2>&1; then return 0; fi
  DOCKERD_LOG=$(mktemp -t redis-sidecars-dockerd.XXXXXX.log)
  local pidfile=/var/run/docker.pid launcher i
  # setsid: a Ctrl-C in this terminal reaches the scripts, which stop dockerd in order, not dockerd directly.
  # The daemon's own pidfile names it (whatever sudo or setsid put in between), so exactly it is stopped later.
  if [ "$(id -u)" -eq 0 ]; then
    setsid dockerd --pidfile "$pidfile" >"$DOCKERD_LOG" 2>&1 &
  else
    sudo setsid dockerd --pidfile "$pidfile" >"$DOCKERD_LOG" 2>&1 &
  fi
  launcher=$!
  for i in $(seq 1 120); do
    if docker info >/dev/null 2>&1 && [ -s "$pidfile" ]; then
      DOCKERD_STARTED_PID=$(cat "$pidfile")
      echo "started dockerd (pid $DOCKERD_STARTED_PID, log $DOCKERD_LOG)"
      return 0
    fi
    if ! _docker_alive "$launcher"; then
      echo "error: dockerd exited at start:" >&2
      tail -n 20 "$DOCKERD_LOG" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "error: dockerd did not answer within 60 s:" >&2
  tail -n 20 "$DOCKERD_LOG" >&2
  [ -s "$pidfile" ] && DOCKERD_STARTED_PID=$(cat "$pidfile")
  docker_stop_if_started
  return 1
}

docker_stop_if_started() {
  [ -n "$DOCKERD_STARTED_PID" ] || return 0
  local pid=$DOCKERD_STARTED_PID i
  DOCKERD_STARTED_PID=""
  # SIGTERM: dockerd stops its containers and the containerd it launched, then exits.
  _docker_sudo kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    _docker_alive "$pid" || break
    sleep 0.5
  done
  if _docker_alive "$pid"; then
    echo "dockerd (pid $pid) did not stop within 30 s; killing it and the containerd it started" >&2
    local children
    children=$(pgrep -P "$pid" 2>/dev/null || true)
    _docker_sudo kill -KILL "$pid" 2>/dev/null || true
    # shellcheck disable=SC2086
    [ -z "$children" ] || _docker_sudo kill -KILL $children 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  echo "stopped dockerd (pid $pid)"
  [ -n "$DOCKERD_LOG" ] && rm -f -- "$DOCKERD_LOG"
  DOCKERD_LOG=""
}
