#!/bin/sh
# Write the broker's only user from the password secret (the password never appears on a command line
# or in the environment), then start RabbitMQ through the image's entrypoint, which drops to the
# rabbitmq user. The default guest user is not created when default_user is set.
set -eu
umask 077
password=$(cat /run/secrets/rabbitmq_password)
mkdir -p /etc/rabbitmq/conf.d
printf 'default_user = nsl\ndefault_pass = %s\ndefault_vhost = /\n' "$password" > /etc/rabbitmq/conf.d/20-nsl.conf
chown rabbitmq:rabbitmq /etc/rabbitmq/conf.d/20-nsl.conf
exec docker-entrypoint.sh rabbitmq-server
