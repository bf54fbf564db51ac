#!/bin/sh
# Restore a base backup into a NEW data directory and recover to a point in time.
#   restore_pitr.sh <base-backup-dir> <new-data-dir> <wal-archive-dir|nsl> "<target time>"
# <target time> is a PostgreSQL timestamp with time zone, e.g. "2026-11-23 19:10:02.5+00".
# With "nsl" as archive, segments come from `nsl backup wal-fetch` (S3 or local, decrypted).
# Then start PostgreSQL on the new directory: it replays WAL up to the target and promotes.
set -eu
base="$1"; data="$2"; archive="$3"; target="$4"
[ ! -e "$data" ] || { echo "restore_pitr: $data exists; choose a new directory" >&2; exit 1; }
mkdir -m 700 -p "$data"
tar -xzf "$base/base.tar.gz" -C "$data"
if [ -f "$base/pg_wal.tar.gz" ]; then
  tar -xzf "$base/pg_wal.tar.gz" -C "$data/pg_wal"
fi
if [ "$archive" = "nsl" ]; then
  restore="nsl backup wal-fetch %f %p"
else
  restore="cp '$archive/%f' '%p'"
fi
cat >> "$data/postgresql.auto.conf" <<CONF
# written by restore_pitr.sh
restore_command = '$(printf %s "$restore" | sed "s/'/''/g")'
recovery_target_time = '$target'
recovery_target_action = 'promote'
# the restored server must not archive into the primary's archive until checked
archive_mode = 'off'
CONF
touch "$data/recovery.signal"
echo "ready: start PostgreSQL with -D $data; it recovers to $target and promotes"
