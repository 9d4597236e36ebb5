#!/usr/bin/env bash
# Installs what the demo and the tests need on Debian: the real Redis and Sentinel, iptables, and the
# Native AOT toolchain (clang, zlib). Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail
need=()
command -v redis-server   >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v redis-cli      >/dev/null 2>&1 || need+=(redis-tools)
command -v clang          >/dev/null 2>&1 || need+=(clang)
command -v promtool       >/dev/null 2>&1 || need+=(prometheus) # promtool, for the alert rule tests (the server it brings is not used)
# iptables (and setpriv, in util-linux): the fence tests and the partition benchmark cut loopback traffic for real.
[ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v setpriv        >/dev/null 2>&1 || need+=(util-linux)
[ -e /usr/lib/x86_64-linux-gnu/libz.so ] || [ -e /usr/lib/aarch64-linux-gnu/libz.so ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package may start a system redis on 127.0.0.1:6379; the tests use their own addresses, so it is left alone.
command -v dotnet >/dev/null 2>&1 || { echo "error: the .NET 10 SDK (dotnet) is required: https://dot.net" >&2; exit 1; }
