#!/usr/bin/env bash
# The project's test command (CI runs exactly this through .ci/run):
# installs what the tests need, publishes both Native AOT binaries (warnings are errors),
# builds both images with the Dockerfiles (scripts/images.sh), runs every test project (the
# integration tests run the published binaries against real redis-server / redis-sentinel on
# loopback addresses; the pod tests run the rendered dev overlay as pods from the images), then
# the benchmark with tiny counts. Starts dockerd when none runs, and stops that one at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/docker-lib.sh
bash scripts/install-deps.sh
command -v kubectl >/dev/null 2>&1 || {
  echo "error: kubectl (with built-in kustomize) is required by the manifest tests and is not installed; it is not installable from Debian in a usable version: install it from the Kubernetes release packages (https://kubernetes.io/docs/tasks/tools/)" >&2
  exit 1
}
bash scripts/publish.sh
dotnet build RedisSidecars.sln -c Debug

log=$(mktemp)
trap 'rm -f "$log"; docker_stop_if_started' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "== images (scripts/images.sh: both Dockerfiles on local stand-in bases; sizes in artifacts/images/results.md)"
docker_ensure_installed
docker_ensure_running
started=$SECONDS
bash scripts/images.sh
echo "images: $((SECONDS - started)) s"

passed=0; failed=0
failures=()
for project in tests/*/; do
  csproj=$(ls "$project"*.csproj 2>/dev/null | head -n 1) || true
  [ -n "$csproj" ] && grep -q '<IsTestProject>true</IsTestProject>' "$csproj" || continue
  echo "== $csproj"
  started=$SECONDS
  # Every project runs even when one fails (a failure must not hide the next one's); the run fails at the end.
  rc=0
  dotnet test "$csproj" --no-build -c Debug --logger "console;verbosity=minimal" | tee "$log" || rc=$?
  echo "$csproj: $((SECONDS - started)) s"
  counts=$(grep -oE 'Failed: +[0-9]+, Passed: +[0-9]+' "$log" | tail -n 1)
  if [ -z "$counts" ]; then
    echo "error: $csproj printed no test summary (exit $rc): the test run itself failed" >&2
    failed=$((failed + 1))
    continue
  fi
  failed=$((failed + $(echo "$counts" | grep -oE 'Failed: +[0-9]+' | grep -oE '[0-9]+')))
  # The names again at the very end: a CI log is often read from its tail, past the benchmark.
  while IFS= read -r name; do failures+=("$name"); done < <(grep -E '^ *Failed [A-Za-z_].* \[[^]]*\]$' "$log" | sed -E 's/^ *Failed //')
  passed=$((passed + $(echo "$counts" | grep -oE 'Passed: +[0-9]+' | grep -oE '[0-9]+')))
  if [ "$rc" -ne 0 ] && ! echo "$counts" | grep -qE 'Failed: +[1-9]'; then
    echo "error: $csproj exited $rc with no failed test" >&2
    failed=$((failed + 1))
  fi
done

echo "== benchmark (quick: tiny counts, so it cannot rot; the full run is for people)"
dotnet run --project bench/RedisSidecars.Bench -c Release -- --quick --out "$(mktemp -d)/quick.md" || {
  echo "error: the benchmark failed (exit $?)" >&2
  failures+=("the benchmark (bench/RedisSidecars.Bench --quick)"); failed=$((failed + 1))
}

for name in "${failures[@]}"; do echo "failed: $name"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
