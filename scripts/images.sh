#!/usr/bin/env bash
# Builds the redis-init and redis-sidecar images with the UNMODIFIED Dockerfiles where no container registry is
# reachable, then runs them hardened as Kubernetes would. No image is pulled: every base is made here from Debian
# packages and passed with --build-arg:
#   redis-sidecars-local/debian:<suite>          debootstrap --variant=minbase, docker import
#   redis-sidecars-local/dotnet-sdk:<version>    + this machine's .NET SDK and the SDK image's native dependencies
#                                                (the Dockerfiles' build stage installs clang and zlib1g-dev itself)
#   redis-sidecars-local/runtime-deps:chiseled   the chiseled runtime-deps slices (libc, libssl, CA bundle, tzdata),
#                                                no shell (scripts/docker/runtime-deps-rootfs.sh)
#   redis-sidecars-local/redis:<suite>           Debian's redis-server, redis-sentinel, redis-tools (with sh: the
#                                                manifests' probes run `sh -c`), in place of the manifests' redis image
#   redis-sidecars-local/pause:1                 the pods' network holder (scripts/docker/pause.c, static)
# and tags the two images exactly as the manifests name them (redis-sidecars/redis-init:<Version>, ...).
# Writes the image names for tests/RedisSidecars.PodTests to artifacts/images/images.env and the sizes to the
# results file (default artifacts/images/results.md).
#   bash scripts/images.sh [--out FILE]
# Starts dockerd when none runs and stops exactly that dockerd on exit (scripts/docker-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/docker-lib.sh

out=artifacts/images/results.md
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a file}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "images.sh: unknown argument '$1' (expected --out FILE)" >&2; exit 2 ;;
  esac
done

suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
sdk_version=$(dotnet --version)
stand_in_label=io.redis-sidecars.stand-in=true

base=redis-sidecars-local/debian:$suite
sdk=redis-sidecars-local/dotnet-sdk:$sdk_version
runtime_deps=redis-sidecars-local/runtime-deps:chiseled
redis=redis-sidecars-local/redis:$suite
pause=redis-sidecars-local/pause:1
init_image=redis-sidecars/redis-init:$version
sidecar_image=redis-sidecars/redis-sidecar:$version

work=$(mktemp -d -t redis-sidecars-images.XXXXXX)
smoke_volume=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$smoke_volume" ] || docker volume rm -f "$smoke_volume" >/dev/null 2>&1 || true
  rm -rf -- "$work"
  docker_stop_if_started
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
timings=()
step_name="" step_start=0
step() { finish_step; step_name=$1; step_start=$SECONDS; printf '==> %s\n' "$1"; }
finish_step() { [ -z "$step_name" ] || timings+=("$step_name|$((SECONDS - step_start))"); step_name=""; }
# Runs a command quietly; on failure prints its output and stops.
quiet() {
  local log="$work/step.log"
  "$@" >"$log" 2>&1 || { local rc=$?; tail -n 60 "$log" >&2; echo "images.sh: failed (exit $rc): $*" >&2; exit 1; }
}

step "docker and the build tools"
bash scripts/install-deps.sh
docker_ensure_installed
docker_ensure_running
export DOCKER_BUILDKIT=0 # the classic builder: BuildKit would fetch the `# syntax=` frontend image from a registry
# Images of an earlier run: the tags are replaced below, and their untagged build layers are removed here.
for image in "$init_image" "$sidecar_image" "$sdk" "$runtime_deps" "$redis" "$pause" "$base"; do
  docker image rm "$image" >/dev/null 2>&1 || true
done
docker image prune -f --filter "label=$stand_in_label" >/dev/null

step "stand-in base: Debian $suite minbase (debootstrap)"
quiet debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror"
tar -C "$work/rootfs" -c . | docker import -c "LABEL $stand_in_label" -c 'CMD ["bash"]' - "$base" >/dev/null
rm -rf -- "$work/rootfs"

step "stand-in base: .NET SDK $sdk_version (this machine's SDK on Debian $suite)"
mkdir -p "$work/sdk/ca"
cp -al "$dotnet_root" "$work/sdk/dotnet" 2>/dev/null || cp -a "$dotnet_root" "$work/sdk/dotnet"
# The build stage trusts what this machine trusts (e.g. a TLS-inspecting proxy's CA), so `dotnet restore` reaches
# NuGet from the build container as it does from here.
for cert in /usr/local/share/ca-certificates/*.crt; do [ -e "$cert" ] && cp "$cert" "$work/sdk/ca/"; done
revocation=${NUGET_CERT_REVOCATION_MODE:+NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE}
cat > "$work/sdk/Dockerfile" <<EOF
FROM $base
# What the SDK image has besides the SDK: its native dependencies and a CA store.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates libicu72 libssl3 libstdc++6 libgcc-s1 zlib1g tzdata \\
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY dotnet/ /usr/share/dotnet/
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV DOTNET_RUNNING_IN_CONTAINER=true DOTNET_NOLOGO=true DOTNET_CLI_TELEMETRY_OPTOUT=true NUGET_XMLDOC_MODE=skip \\
    DOTNET_GENERATE_ASPNET_CERTIFICATE=false ${revocation}
EOF
quiet docker build -q -t "$sdk" "$work/sdk"
rm -rf -- "$work/sdk"

step "stand-in base: runtime-deps (chiseled slices, no shell)"
docker run --rm -i "$base" bash < scripts/docker/runtime-deps-rootfs.sh \
  | docker import -c "LABEL $stand_in_label" \
      -c 'ENV ASPNETCORE_HTTP_PORTS=8080 DOTNET_RUNNING_IN_CONTAINER=true DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true APP_UID=1654' \
      -c 'USER 1654' - "$runtime_deps" >/dev/null
if docker run --rm --entrypoint /bin/sh "$runtime_deps" -c true >/dev/null 2>&1; then
  echo "images.sh: $runtime_deps has a shell; the chiseled image has none" >&2; exit 1
fi

step "Redis image (Debian's redis-server, redis-sentinel, redis-tools)"
quiet docker build -q -t "$redis" - <<EOF
FROM $base
RUN apt-get update \\
 && apt-get install -y --no-install-recommends redis-server redis-sentinel redis-tools \\
 && rm -rf /var/lib/apt/lists/*
EOF

step "pause image"
mkdir -p "$work/pause"
clang -static -Os -s -o "$work/pause/pause" scripts/docker/pause.c
tar -C "$work/pause" -c pause | docker import -c "LABEL $stand_in_label" -c 'ENTRYPOINT ["/pause"]' - "$pause" >/dev/null

build_image() { # Dockerfile tag
  quiet docker build -f "$1" \
    --build-arg "SDK_IMAGE=$sdk" --build-arg "RUNTIME_DEPS_IMAGE=$runtime_deps" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    -t "$2" .
}
step "build $init_image (Dockerfile.init, unmodified)"
build_image Dockerfile.init "$init_image"
step "build $sidecar_image (Dockerfile.sidecar, unmodified)"
build_image Dockerfile.sidecar "$sidecar_image"

step "run both images hardened: read-only root, non-root, no capabilities, no-new-privileges, no network"
hardened=(--rm --read-only --cap-drop ALL --security-opt no-new-privileges --network none)
for image in "$init_image" "$sidecar_image"; do
  user=$(docker image inspect -f '{{.Config.User}}' "$image")
  case "$user" in ""|0|0:*|root|root:*) echo "images.sh: $image runs as '$user', not as a non-root user" >&2; exit 1 ;; esac
  printf '    %s --version: %s\n' "$image" "$(docker run "${hardened[@]}" --user "$user" "$image" --version)"
done
# redis-init writes its config into a writable volume (as the emptyDir it gets in a pod; a root helper plays the
# kubelet's fsGroup ownership), beside an empty data directory, with nothing else reachable: it must decide pod-0
# is master and write the file.
smoke_volume=$(docker volume create)
user=$(docker image inspect -f '{{.Config.User}}' "$init_image")
docker run --rm --user 0 -v "$smoke_volume:/etc/redis" --entrypoint chown "$redis" "$user" /etc/redis
decision=$(docker run "${hardened[@]}" --user "$user" -v "$smoke_volume:/etc/redis" --tmpfs /data \
  -e POD_NAME=redis-0 -e POD_NAMESPACE=images-smoke -e DISCOVERY_TIMEOUT_MS=2000 "$init_image" redis --output /etc/redis/redis.conf)
written=$(docker run --rm -v "$smoke_volume:/etc/redis:ro" --entrypoint sh "$redis" -c 'stat -c "%a %u" /etc/redis/redis.conf && grep -c . /etc/redis/redis.conf')
echo "    redis-init redis: $decision; wrote /etc/redis/redis.conf (mode, owner, lines: $(echo $written))"
case "$decision" in role=master*) ;; *) echo "images.sh: expected redis-init to choose pod-0 as master, got: $decision" >&2; exit 1 ;; esac
[ "$(echo "$written" | head -n 1)" = "600 ${user%%:*}" ] || { echo "images.sh: redis.conf is not mode 600 owned by ${user%%:*}: $written" >&2; exit 1; }
finish_step

mb() { awk -v b="$(docker image inspect -f '{{.Size}}' "$1")" 'BEGIN { printf "%.1f", b / 1000000 }'; }
mkdir -p "$(dirname "$out")" artifacts/images
{
  echo "# Image sizes"
  echo
  echo "Built by \`bash scripts/images.sh\` on $(date -u +%Y-%m-%d) from revision \`$revision\` with the unmodified Dockerfiles."
  echo "Bases are local stand-ins (no registry reachable): Debian $suite packages, this machine's .NET SDK $sdk_version."
  echo
  echo "| image | size (MB) | what |"
  echo "| --- | ---: | --- |"
  echo "| \`$init_image\` | $(mb "$init_image") | Dockerfile.init on the runtime-deps stand-in |"
  echo "| \`$sidecar_image\` | $(mb "$sidecar_image") | Dockerfile.sidecar on the runtime-deps stand-in |"
  echo "| \`$runtime_deps\` | $(mb "$runtime_deps") | stand-in for mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled |"
  echo "| \`$sdk\` | $(mb "$sdk") | stand-in for mcr.microsoft.com/dotnet/sdk:10.0-noble |"
  echo "| \`$redis\` | $(mb "$redis") | Debian's Redis, in place of the manifests' redis image in the pod tests |"
  echo "| \`$pause\` | $(mb "$pause") | the pods' network holder in the pod tests |"
  echo
  echo "| stage | seconds |"
  echo "| --- | ---: |"
  for t in "${timings[@]}"; do echo "| ${t%%|*} | ${t##*|} |"; done
  echo "| total | $((SECONDS - started)) |"
} > "$out"
cat > artifacts/images/images.env <<EOF
# Written by scripts/images.sh for tests/RedisSidecars.PodTests.
REDIS_IMAGE=$redis
PAUSE_IMAGE=$pause
INIT_IMAGE=$init_image
SIDECAR_IMAGE=$sidecar_image
EOF
cat "$out"
echo "images.sh: sizes in $out"
