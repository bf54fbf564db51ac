#!/usr/bin/env bash
# Quick start for the Docker Compose deployment: make every secret and certificate the stack needs,
# in deploy/compose/secrets/ (mode 0700). Idempotent: a file that exists is kept, so running it again
# changes nothing, and deleting one file and re-running makes just that one again.
#
#   deploy/compose/setup.sh                         self-signed certificate for localhost
#   NSL_DOMAIN=api.example.org deploy/compose/setup.sh
#   NSL_TLS_CERT=/path/fullchain.pem NSL_TLS_KEY=/path/privkey.pem deploy/compose/setup.sh
#
# Needs openssl. Secrets are random hex (openssl rand), never printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secrets="${NSL_SECRETS_OUT:-$here/secrets}"
domain="${NSL_DOMAIN:-localhost}"
days="${NSL_CERT_DAYS:-825}"

umask 077
mkdir -p "$secrets"
chmod 0700 "$secrets"

made=()

# Files are readable inside the containers, which run as other users than the one running this
# script; the directory (0700) keeps them from other users of this host.
publish() {
  chmod 0444 "$1"
  made+=("$(basename "$1")")
}

random_secret() {
  local file="$secrets/$1"
  if [[ ! -s "$file" ]]; then
    openssl rand -hex 32 > "$file"
    publish "$file"
  fi
}

derived() {
  # derived NAME VALUE: a file computed from other secrets, made when missing
  local file="$secrets/$1"
  if [[ ! -s "$file" ]]; then
    printf '%s\n' "$2" > "$file"
    publish "$file"
  fi
}

read_secret() {
  tr -d '\n' < "$secrets/$1"
}

for name in postgres_password postgres_owner_password postgres_app_password redis_password rabbitmq_password \
            grafana_admin_password nsl_enclave_token_api nsl_enclave_token_worker nsl_enclave_token_cli \
            nsl_jwt_kek; do
  random_secret "$name"
done

derived nsl_database_url \
  "postgresql://nsl_app:$(read_secret postgres_app_password)@postgres:5432/nsl?ssl=verify-full"
derived nsl_migrate_database_url \
  "postgresql://nsl_owner:$(read_secret postgres_owner_password)@postgres:5432/nsl?ssl=verify-full"
derived nsl_redis_url "redis://nsl:$(read_secret redis_password)@redis:6379/0"
derived nsl_bus_url "amqp://nsl:$(read_secret rabbitmq_password)@rabbitmq:5672/"
# the enclave knows every client's token; each process mounts only its own (docker-compose.production.yml)
derived nsl_enclave_clients \
  "{\"api\": \"$(read_secret nsl_enclave_token_api)\", \"worker\": \"$(read_secret nsl_enclave_token_worker)\", \"cli\": \"$(read_secret nsl_enclave_token_cli)\"}"

# PostgreSQL: a private CA and a server certificate for the name `postgres` (verify-full checks it).
if [[ ! -s "$secrets/postgres_ca.crt" || ! -s "$secrets/postgres_ca.key" ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days "$days" \
    -subj "/CN=nsl postgres CA" -keyout "$secrets/postgres_ca.key" -out "$secrets/postgres_ca.crt" \
    2>/dev/null
  chmod 0400 "$secrets/postgres_ca.key"
  publish "$secrets/postgres_ca.crt"
  rm -f "$secrets/postgres_server.crt" "$secrets/postgres_server.key"
fi
if [[ ! -s "$secrets/postgres_server.crt" || ! -s "$secrets/postgres_server.key" ]]; then
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -subj "/CN=postgres" \
    -keyout "$secrets/postgres_server.key" -out "$secrets/postgres_server.csr" 2>/dev/null
  openssl x509 -req -in "$secrets/postgres_server.csr" -CA "$secrets/postgres_ca.crt" \
    -CAkey "$secrets/postgres_ca.key" -CAcreateserial -days "$days" -sha256 \
    -extfile <(printf 'subjectAltName=DNS:postgres\nextendedKeyUsage=serverAuth\n') \
    -out "$secrets/postgres_server.crt" 2>/dev/null
  rm -f "$secrets/postgres_server.csr" "$secrets/postgres_ca.srl"
  publish "$secrets/postgres_server.crt"
  publish "$secrets/postgres_server.key"
fi

# nginx: the operator's certificate when given, else a self-signed one for $NSL_DOMAIN.
if [[ -n "${NSL_TLS_CERT:-}" || -n "${NSL_TLS_KEY:-}" ]]; then
  if [[ -z "${NSL_TLS_CERT:-}" || -z "${NSL_TLS_KEY:-}" ]]; then
    echo "setup.sh: set both NSL_TLS_CERT and NSL_TLS_KEY" >&2
    exit 2
  fi
  if ! cmp -s "$NSL_TLS_CERT" "$secrets/tls.crt" || ! cmp -s "$NSL_TLS_KEY" "$secrets/tls.key"; then
    rm -f "$secrets/tls.crt" "$secrets/tls.key"
    cp "$NSL_TLS_CERT" "$secrets/tls.crt"
    cp "$NSL_TLS_KEY" "$secrets/tls.key"
    publish "$secrets/tls.crt"
    publish "$secrets/tls.key"
  fi
elif [[ ! -s "$secrets/tls.crt" || ! -s "$secrets/tls.key" ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days "$days" \
    -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
    -keyout "$secrets/tls.key" -out "$secrets/tls.crt" 2>/dev/null
  publish "$secrets/tls.crt"
  publish "$secrets/tls.key"
  echo "setup.sh: self-signed certificate for $domain (browsers will warn; use NSL_TLS_CERT/NSL_TLS_KEY for a real one)"
fi

# Alertmanager's receivers: credentials of your PagerDuty, Slack and mail accounts. Empty files let
# the stack start; alerts to a receiver without its credential fail until you fill it in.
for name in alertmanager_pagerduty_routing_key alertmanager_slack_webhook_url alertmanager_smtp_password; do
  if [[ ! -e "$secrets/$name" ]]; then
    : > "$secrets/$name"
    publish "$secrets/$name"
    echo "setup.sh: fill in $secrets/$name"
  fi
done

if (( ${#made[@]} )); then
  echo "setup.sh: made ${made[*]}"
else
  echo "setup.sh: every secret already exists; nothing changed"
fi

if [[ -e /dev/sgx_enclave && -e /dev/sgx_provision ]]; then
  echo "setup.sh: SGX devices found; start with -f docker-compose.production.yml -f docker-compose.sgx.yml"
else
  echo "setup.sh: no SGX devices (/dev/sgx_enclave, /dev/sgx_provision); the enclave runs in simulation mode"
fi
