#!/bin/sh
# PostgreSQL archive_command for a local (or mounted) archive directory.
#   archive_command = '/opt/nsl/deploy/pitr/archive_wal.sh %p %f /var/lib/nsl-wal-archive'
# Never overwrites a segment already archived; writes to a temporary name, syncs, then renames, so a
# crash never leaves a partial segment under its real name. A non-zero exit makes PostgreSQL retry.
# For S3 (encrypted with the backup key) use instead:  archive_command = 'nsl backup wal-push %p'
set -eu
src="$1"; name="$2"; dir="$3"
[ -d "$dir" ] || mkdir -p "$dir"
if [ -f "$dir/$name" ]; then
  # the same segment may be offered twice after a crash: fine if identical, an error otherwise
  cmp -s "$src" "$dir/$name" && exit 0
  echo "archive_wal: $name already archived with different content" >&2
  exit 1
fi
cp "$src" "$dir/.$name.partial"
sync "$dir/.$name.partial" 2>/dev/null || sync
mv "$dir/.$name.partial" "$dir/$name"
