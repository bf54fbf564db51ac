#!/bin/sh
# PostgreSQL refuses a private key that others can read: copy the mounted certificate and key to a
# directory of the postgres user with the modes it wants, then hand over to the image's entrypoint.
set -eu
install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/tls
install -o postgres -g postgres -m 0600 /run/secrets/postgres_tls_key /var/lib/postgresql/tls/server.key
install -o postgres -g postgres -m 0644 /run/secrets/postgres_tls_cert /var/lib/postgresql/tls/server.crt
exec docker-entrypoint.sh "$@"
