#!/bin/sh
# Entrypoint of the locally built Valkey image (scripts/local_images.py), used where the
# registry's valkey/valkey image cannot be pulled. Same contract as that image: arguments
# that start with "-" are valkey-server options. Protected mode is off because every
# client arrives through Docker's port mapping, which Valkey sees as remote; the port is
# published on 127.0.0.1 only (docker-compose.yml, scripts/servers/docker.py).
set -eu
if [ "${1#-}" != "$1" ] || [ $# -eq 0 ]; then
  set -- valkey-server "$@"
fi
if [ "$1" = valkey-server ]; then
  shift
  set -- valkey-server --bind 0.0.0.0 --protected-mode no "$@"
fi
exec "$@"
