#!/bin/sh
# Health check: the node runs and its AMQP listener accepts connections.
set -eu
rabbitmq-diagnostics -q check_port_connectivity
