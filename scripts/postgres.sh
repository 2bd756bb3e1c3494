#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks.
#
#   scripts/postgres.sh install   installs PostgreSQL from the distribution's packages when no
#                                 initdb is found (idempotent; says what it did)
#   scripts/postgres.sh start     creates a cluster in a new temporary directory, listening on a
#                                 free loopback port only (trust auth, no password), and prints
#                                 shell assignments to eval:
#                                   CHATTAG_PG_DIR=/tmp/chattag-pg.XXXX
#                                   CHATTAG_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres
#                                   CHATTAG_TEST_POSTGRES_CA=/tmp/chattag-pg.XXXX/ca.pem
#                                 TLS is on, with a certificate for localhost and 127.0.0.1 signed
#                                 by a CA made for this cluster (CHATTAG_TEST_POSTGRES_CA; none
#                                 without the openssl command)
#   scripts/postgres.sh stop DIR  stops that cluster and removes its directory
#                                 (DIR defaults to $CHATTAG_PG_DIR)
#
#   eval "$(scripts/postgres.sh start)"; ...; scripts/postgres.sh stop "$CHATTAG_PG_DIR"
#
# initdb refuses to run as root: as root, the cluster runs as the `postgres` user (created by
# the package) and the directory is given to it. Messages go to stderr, assignments to stdout.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

install() {
  local bin
  if bin=$(find_bin); then
    say "PostgreSQL found: $bin ($("$bin/postgres" --version))"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || { say "no initdb and no apt-get: install PostgreSQL (server) yourself"; exit 1; }
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "no initdb found: installing the distribution's postgresql package"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  # The package starts a system cluster; the tests use their own.
  bin=$(find_bin) || { say "postgresql installed but no initdb found"; exit 1; }
  say "installed: $bin ($("$bin/postgres" --version))"
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  exit 1
}

# A CA and a server certificate (localhost, 127.0.0.1) for this cluster only, valid two days.
make_certs() {
  local dir="$1"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=chattag test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
    chmod 600 server.key ca.key
    chmod 644 ca.pem
    if [ "$(id -u)" -eq 0 ]; then chown postgres: server.key server.crt; fi
  ) >"$dir/certs.log" 2>&1 || { say "could not make TLS certificates (see $dir/certs.log); no TLS"; return 1; }
}

start() {
  install
  local bin dir port user
  bin=$(find_bin)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/chattag-pg.XXXXXX")
  chmod 755 "$dir"
  user=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { say "running as root needs the postgres user (created by the package)"; exit 1; }
    chown postgres: "$dir"
    user=postgres
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(free_port)
  local tls="" ca=""
  if command -v openssl >/dev/null 2>&1; then
    make_certs "$dir" && tls="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" && ca="$dir/ca.pem"
  else
    say "no openssl command: the cluster runs without TLS"
  fi
  # Loopback only, socket in the cluster's own directory. fsync stays on: the tests check
  # durability of what was acknowledged.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=64MB $tls" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  say "cluster running as $user in $dir on 127.0.0.1:$port"
  echo "CHATTAG_PG_DIR=$dir"
  echo "CHATTAG_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
  [ -z "$ca" ] || echo "CHATTAG_TEST_POSTGRES_CA=$ca"
}

stop() {
  local dir="${1:-${CHATTAG_PG_DIR:-}}" bin
  [ -n "$dir" ] || { say "stop: which cluster? (give its directory or set CHATTAG_PG_DIR)"; exit 1; }
  [ -d "$dir/data" ] || { say "stop: $dir holds no cluster"; exit 1; }
  bin=$(find_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
  say "cluster in $dir stopped and removed"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 install | start | stop [DIR]" >&2; exit 2 ;;
esac
