#!/usr/bin/env bash
# The project's test command: installs what the tests need, publishes both AOT binaries (zero
# warnings: warnings are errors), then runs every test project against the published binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
command -v kubectl >/dev/null 2>&1 || { echo "error: kubectl (with built-in kustomize) is required for the manifest tests; it is not installable from Debian in a usable version: install it from the Kubernetes release packages" >&2; exit 1; }
bash scripts/publish.sh
dotnet build RedisSidecars.sln -c Debug
for project in tests/*/; do
  [ -n "$(ls "$project"/*.csproj 2>/dev/null)" ] || continue
  grep -q '<IsTestProject>true</IsTestProject>' "$project"/*.csproj || continue
  dotnet test "$project" --no-build -c Debug --logger "console;verbosity=normal"
done
