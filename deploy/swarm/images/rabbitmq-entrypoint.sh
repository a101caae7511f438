#!/bin/sh
# The offline RabbitMQ image's entry point, named as in the official image
# (docker-entrypoint.sh rabbitmq-server): reads /etc/rabbitmq/conf.d/*.conf as the official
# image does, owns the data folder, and runs the server as the rabbitmq user.
set -eu
if [ "${1:-rabbitmq-server}" != rabbitmq-server ]; then exec "$@"; fi
mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq/conf.d
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
export HOME=/var/lib/rabbitmq RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d RABBITMQ_LOGS=- RABBITMQ_SASL_LOGS=-
exec setpriv --reuid=rabbitmq --regid=rabbitmq --clear-groups -- /usr/lib/rabbitmq/bin/rabbitmq-server
