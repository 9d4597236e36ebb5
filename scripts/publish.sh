#!/usr/bin/env bash
# Publishes both programs as Native AOT binaries. The Dockerfiles run these same commands.
#   artifacts/publish/InitConfig/release_linux-x64/redis-init
#   artifacts/publish/SentinelSidecar/release_linux-x64/redis-sidecar
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/InitConfig -c Release -r linux-x64
dotnet publish src/SentinelSidecar -c Release -r linux-x64
