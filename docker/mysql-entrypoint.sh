#!/bin/sh
# Entrypoint of the locally built MySQL image (scripts/local_images.py), used where the
# registry's mysql image cannot be pulled. Same contract as that image for what this
# project uses: MYSQL_ROOT_PASSWORD (root from any host), MYSQL_DATABASE, and
# MYSQL_USER/MYSQL_PASSWORD (all rights on that database); arguments that start with "-"
# are mysqld options. The first start initializes /var/lib/mysql.
set -eu
: "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}"
datadir=/var/lib/mysql
if [ "${1#-}" != "$1" ] || [ $# -eq 0 ]; then
  set -- mysqld "$@"
fi
if [ "$1" != mysqld ]; then
  exec "$@"
fi
shift
mkdir -p "$datadir" /var/run/mysqld
chown mysql:mysql "$datadir" /var/run/mysqld
if [ ! -d "$datadir/mysql" ]; then
  mysqld --no-defaults --initialize-insecure --user=mysql --datadir="$datadir"
fi
quote() { printf "%s" "$1" | sed "s/'/''/g"; }
init=/var/run/mysqld/init.sql
umask 077
{
  echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$(quote "$MYSQL_ROOT_PASSWORD")';"
  echo "ALTER USER 'root'@'%' IDENTIFIED BY '$(quote "$MYSQL_ROOT_PASSWORD")';"
  echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(quote "$MYSQL_ROOT_PASSWORD")';"
  echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  if [ -n "${MYSQL_DATABASE:-}" ]; then
    echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
  fi
  if [ -n "${MYSQL_USER:-}" ]; then
    echo "CREATE USER IF NOT EXISTS '$(quote "$MYSQL_USER")'@'%' IDENTIFIED BY '$(quote "${MYSQL_PASSWORD:-}")';"
    echo "ALTER USER '$(quote "$MYSQL_USER")'@'%' IDENTIFIED BY '$(quote "${MYSQL_PASSWORD:-}")';"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO '$(quote "$MYSQL_USER")'@'%';"
    fi
  fi
} > "$init"
chown mysql:mysql "$init"
exec mysqld --no-defaults --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 \
  --socket=/var/run/mysqld/mysqld.sock --pid-file=/var/run/mysqld/mysqld.pid \
  --mysqlx=OFF --init-file="$init" "$@"
