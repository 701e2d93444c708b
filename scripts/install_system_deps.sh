#!/usr/bin/env bash
# Installs the local servers the tests and the demo need, when they are missing.
# Debian/Ubuntu: valkey-server (bookworm-backports on Debian 12) and mariadb-server.
# macOS: Homebrew's valkey and mariadb. Anything else: say what to install.
set -euo pipefail

need_valkey=1; need_mysql=1
command -v valkey-server >/dev/null 2>&1 && need_valkey=0
{ command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; } && need_mysql=0
if [ "$need_valkey" = 0 ] && [ "$need_mysql" = 0 ]; then
  echo "system deps: valkey-server and a MySQL-compatible server are present"
  exit 0
fi

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  . /etc/os-release
  pkgs=()
  [ "$need_mysql" = 1 ] && pkgs+=(mariadb-server)
  if [ "$need_valkey" = 1 ]; then
    if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
      if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo_cmd tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
      fi
      valkey_pkg=(-t bookworm-backports valkey-server)
    else
      valkey_pkg=(valkey-server)
    fi
  fi
  wanted=("${pkgs[@]}")
  [ "$need_valkey" = 1 ] && wanted+=(valkey-server)
  echo "system deps: installing ${wanted[*]} with apt-get"
  $sudo_cmd apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  if [ ${#pkgs[@]} -gt 0 ]; then
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
  if [ "$need_valkey" = 1 ]; then
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${valkey_pkg[@]}" >/dev/null
  fi
  # The packages start system services; the project runs its own servers on free ports.
  for svc in valkey-server mariadb; do
    $sudo_cmd service "$svc" stop >/dev/null 2>&1 || true
  done
elif command -v brew >/dev/null 2>&1; then
  [ "$need_valkey" = 1 ] && brew install valkey
  [ "$need_mysql" = 1 ] && brew install mariadb
else
  cat >&2 <<'MSG'
system deps: cannot install the local servers on this system automatically.
  Debian 12: add bookworm-backports, then: apt-get install -t bookworm-backports valkey-server; apt-get install mariadb-server
  Ubuntu 24.04+: apt-get install valkey-server mariadb-server
  macOS: brew install valkey mariadb
  Or: run a Docker engine (docker compose up -d uses valkey/valkey:8 and mysql:8.4)
MSG
  exit 1
fi
echo "system deps: done"
