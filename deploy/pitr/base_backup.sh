#!/bin/sh
# Take a base backup for point-in-time recovery (run daily, next to `nsl backup create`).
#   base_backup.sh <backup-dir>
# Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD); the role needs
# REPLICATION. Writes base.tar.gz and pg_wal.tar.gz (the WAL needed for consistency) into a new
# directory <backup-dir>/<UTC time>. For S3, push both files with `nsl backup wal-push --name`.
set -eu
root="$1"
dir="$root/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"
pg_basebackup --pgdata="$dir" --format=tar --gzip --wal-method=stream --checkpoint=fast \
  --label="nsl-base-$(basename "$dir")" --no-password
echo "$dir"
