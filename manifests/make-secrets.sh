#!/bin/sh
# Writes the secret files an overlay's secretGenerator reads (never committed: .gitignore has
# manifests/overlays/*/secrets/*.txt). Usage: sh manifests/make-secrets.sh dev|staging|prod|valkey
# Existing files are kept, so running it again does not rotate anything; delete them to rotate.
# Without these files `kubectl apply -k manifests/overlays/OVERLAY` stops with an error naming this command.
#   redis-password.txt     the `default` (admin) user: Sentinel, redis-init, redis-sidecar, probes, verify
#   sentinel-password.txt  Sentinel's own requirepass
#   app-password.txt       the application user `app` (Secret redis-app, key password)
#   users-acl.txt          the ACL file (Secret redis-acl, key users.acl) with both users, SHA-256 hashed
set -eu
overlay=${1:?usage: make-secrets.sh OVERLAY (dev, staging, prod or valkey)}
here=$(cd "$(dirname "$0")" && pwd)
dir="$here/overlays/$overlay/secrets"
[ -d "$here/overlays/$overlay" ] || { echo "make-secrets.sh: no overlay '$overlay' under $here/overlays" >&2; exit 2; }
mkdir -p "$dir"
umask 077

random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

for name in redis-password sentinel-password app-password; do
  [ -s "$dir/$name.txt" ] || random > "$dir/$name.txt"
done

admin=$(cat "$dir/redis-password.txt")
app=$(cat "$dir/app-password.txt")
# The default user must be in the file: an ACL file without it leaves `default` passwordless.
{
  printf 'user default on #%s ~* &* +@all\n' "$(sha256 "$admin")"
  printf 'user app on #%s ~* &* +@all -flushdb -flushall -config -shutdown -debug -replicaof -slaveof -failover -module\n' "$(sha256 "$app")"
} > "$dir/users-acl.txt"
echo "secrets for overlay '$overlay' are in $dir (git ignores them); next: kubectl apply -k manifests/overlays/$overlay"
