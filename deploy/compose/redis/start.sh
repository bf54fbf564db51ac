#!/bin/sh
# Write the ACL file from the password secret (the password never appears on a command line), then
# start Redis through the image's entrypoint, which drops to the redis user.
set -eu
umask 077
password=$(cat /run/secrets/redis_password)
printf 'user default off\nuser nsl on >%s ~* &* +@all -@dangerous\n' "$password" > /tmp/users.acl
chown redis:redis /tmp/users.acl
exec docker-entrypoint.sh redis-server /etc/nsl/redis/redis.conf
