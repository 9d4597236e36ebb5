#!/bin/sh
# The hand-built init this project replaces (seed 003), for the benchmark's side-by-side:
# ask ONE Sentinel (the first answer wins), else default to pod-0; append slaveof to the template.
# Env: SENTINEL_HOST SENTINEL_PORT POD_NAME MASTER0_HOST TEMPLATE OUTPUT
cp "$TEMPLATE" "$OUTPUT"
if [ "$(redis-cli -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" ping 2>/dev/null)" != "PONG" ]; then
  if [ "$POD_NAME" != "redis-0" ]; then
    echo "slaveof $MASTER0_HOST 6379" >> "$OUTPUT"
  fi
else
  MASTER="$(redis-cli -h "$SENTINEL_HOST" -p "$SENTINEL_PORT" sentinel get-master-addr-by-name mymaster | head -n 1)"
  echo "slaveof $MASTER 6379" >> "$OUTPUT"
fi
