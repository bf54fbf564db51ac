#!/bin/sh
# Entrypoint of the nsl image: export secrets mounted as files, then run `nsl <command>`.
#
# Every regular file named nsl_<name> in $NSL_SECRETS_DIR (default /run/secrets; Docker Compose
# `secrets:` and Kubernetes secret volumes both put files there) becomes the environment variable
# NSL_<NAME> (upper-cased), unless that variable is already set. So the secret file
# /run/secrets/nsl_database_url sets NSL_DATABASE_URL. Values never appear on a command line.
set -eu

secrets_dir="${NSL_SECRETS_DIR:-/run/secrets}"
if [ -d "$secrets_dir" ]; then
  for file in "$secrets_dir"/nsl_*; do
    [ -f "$file" ] || continue
    name=$(basename "$file" | tr '[:lower:]' '[:upper:]')
    case "$name" in
      *[!A-Z0-9_]*) continue ;;
    esac
    if ! printenv "$name" >/dev/null; then
      value=$(cat "$file")
      export "$name=$value"
    fi
  done
fi

exec nsl "$@"
