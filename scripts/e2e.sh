#!/usr/bin/env bash
# The end-to-end suite against a REAL Kubernetes cluster (never run by scripts/test.sh or CI: it needs a cluster).
# Deploys an overlay into a fresh namespace, checks the master label against the Sentinels, the redis-master
# Service, writes with WAIT 1 through a master deletion and a rolling restart (no acknowledged write may be lost),
# samples the Service's EndpointSlices, restarts a Sentinel, runs the verify Job, and deletes the namespace on
# every exit path (unless --keep). Prints each step and one summary line; exits non-zero when a check fails.
#
#   KUBECONFIG=~/.kube/config scripts/e2e.sh [--overlay dev] [--namespace NAME] [--keep] \
#     [--init-image REF] [--sidecar-image REF] [--redis-image REF] [--timeout-minutes 10]
#
# Images default to the overlay's own (redis-sidecars/redis-init:0.1.0 …, loaded into the cluster as README.md
# shows); pass pushed references otherwise. `scripts/e2e.sh --help` lists the environment variables too.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in kubectl dotnet; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is required and is not on PATH" >&2; exit 2; }
done
dotnet build tests/RedisSidecars.E2E -c Release --nologo -v quiet >/dev/null || {
  echo "e2e: building tests/RedisSidecars.E2E failed: run 'dotnet build tests/RedisSidecars.E2E -c Release' to see why" >&2
  exit 2
}
exec dotnet "artifacts/bin/RedisSidecars.E2E/release/RedisSidecars.E2E.dll" --manifests "$PWD/manifests" "$@"
