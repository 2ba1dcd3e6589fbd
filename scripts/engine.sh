#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# Installs Debian's docker.io when dockerd is missing, starts dockerd in the
# background when `docker info` fails, then waits until it answers.
set -euo pipefail

log() { printf '[engine] %s\n' "$*"; }

if docker info >/dev/null 2>&1; then
  log "docker engine is running"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/alicia-dockerd.log)"
  nohup dockerd >/var/log/alicia-dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "docker engine is up"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/alicia-dockerd.log" >&2
exit 1
