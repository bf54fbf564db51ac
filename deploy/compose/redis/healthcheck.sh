#!/bin/sh
# Health check: an authenticated PING. REDISCLI_AUTH keeps the password off the command line.
set -eu
REDISCLI_AUTH=$(cat /run/secrets/redis_password)
export REDISCLI_AUTH
[ "$(redis-cli --user nsl ping)" = "PONG" ]
