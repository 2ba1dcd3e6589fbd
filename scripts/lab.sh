#!/usr/bin/env bash
# Lab hosts: Debian 12 containers with systemd as PID 1 (never --privileged;
# SYS_PTRACE so that root reads every process's /proc/<pid>/fd as on a real
# host: the plan's pre-deployment checks find which process holds a port)
# on a user-defined Docker network, reached by inventories/lab through the
# community.docker.docker connection (`up` writes inventories/lab/lab-hosts.yml).
#   scripts/lab.sh up      LAB_HOSTS=1 (default): one host in every group
#                          LAB_HOSTS=3: a broker host and two application hosts
#                          LAB_HOSTS=2, 4 (benchmarks/run.py scaling): the phase
#                          groups spread over the hosts, the broker on the first
#                          (2: broker, core, management, voice | devices, advanced,
#                          observability; 4: broker | core, management | voice,
#                          devices | advanced, observability)
#                          LAB_DOCKER=1 (benchmarks/run.py compose): hosts that may
#                          run their own Docker engine (platform_docker's flags:
#                          seccomp and AppArmor unconfined, SYS_PTRACE, a tmpfs
#                          /var/lib/docker; still never --privileged)
#   scripts/lab.sh down    remove the lab containers and network
#   scripts/lab.sh status
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE="${LAB_IMAGE:-alicia-test/debian:bookworm}"
NETWORK="${LAB_NETWORK:-alicia-lab}"
SUBNET="${LAB_SUBNET:-172.30.57.0/24}"
HOSTS="${LAB_HOSTS:-1}"
DOCKER_HOSTS="${LAB_DOCKER:-0}"
INVENTORY="$ROOT/inventories/lab/lab-hosts.yml"
PHASES="alicia_core,alicia_management,alicia_voice,alicia_devices,alicia_advanced,alicia_observability"

log() { printf '[lab] %s\n' "$*"; }

groups_for() {  # host index -> comma-separated inventory groups
  local i=$1
  if [ "$HOSTS" -eq 1 ]; then
    echo "alicia_broker,$PHASES"
  elif [ "$HOSTS" -eq 2 ]; then
    case "$i" in
      1) echo "alicia_broker,alicia_core,alicia_management,alicia_voice" ;;
      *) echo "alicia_devices,alicia_advanced,alicia_observability" ;;
    esac
  elif [ "$HOSTS" -eq 4 ]; then
    case "$i" in
      1) echo "alicia_broker" ;;
      2) echo "alicia_core,alicia_management" ;;
      3) echo "alicia_voice,alicia_devices" ;;
      *) echo "alicia_advanced,alicia_observability" ;;
    esac
  else
    case "$i" in
      1) echo "alicia_broker" ;;
      2) echo "alicia_core,alicia_management,alicia_voice" ;;
      *) echo "alicia_devices,alicia_advanced,alicia_observability" ;;
    esac
  fi
}

up() {
  case "$HOSTS" in 1|2|3|4) ;; *) log "LAB_HOSTS must be 1, 2, 3 or 4" >&2; exit 2 ;; esac
  docker network inspect "$NETWORK" >/dev/null 2>&1 \
    || docker network create --driver bridge --subnet "$SUBNET" "$NETWORK" >/dev/null
  # A lab of another size is replaced, not mixed.
  for name in $(docker ps -a --filter label=alicia.lab=1 --format '{{.Names}}'); do
    idx=${name##*-}
    if [ "$idx" -gt "$HOSTS" ]; then docker rm -f "$name" >/dev/null; log "removed $name"; fi
  done
  for i in $(seq 1 "$HOSTS"); do
    name="alicia-lab-$i"
    want=$(groups_for "$i")
    have=$(docker inspect -f '{{ index .Config.Labels "alicia.groups" }}' "$name" 2>/dev/null || true)
    have_docker=$(docker inspect -f '{{ index .Config.Labels "alicia.docker" }}' "$name" 2>/dev/null || true)
    if [ -n "$have" ] && { [ "$have" != "$want" ] || [ "${have_docker:-0}" != "$DOCKER_HOSTS" ]; }; then
      docker rm -f "$name" >/dev/null; have=""
    fi
    if [ -z "$have" ]; then
      engine=()
      if [ "$DOCKER_HOSTS" = 1 ]; then
        engine=(--label alicia.docker=1 --security-opt seccomp=unconfined
                --security-opt apparmor=unconfined --tmpfs /var/lib/docker:rw,exec,size=4g)
      fi
      docker run -d --name "$name" --hostname "$name" --network "$NETWORK" \
        --label alicia.lab=1 --label "alicia.groups=$want" "${engine[@]}" \
        --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cgroupns=host \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
        "$IMAGE" /lib/systemd/systemd >/dev/null
      log "started $name ($want)"
    elif [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]; then
      docker start "$name" >/dev/null
      log "restarted $name"
    fi
  done
  for i in $(seq 1 "$HOSTS"); do
    for _ in $(seq 1 60); do
      state=$(docker exec "alicia-lab-$i" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
    log "alicia-lab-$i: ${state:-unknown}"
  done
  # Throwaway secrets for the lab (git-ignored, 0600), read by inventories/lab.
  "$ROOT/.venv/bin/python" "$ROOT/scripts/lab-secrets.py" "$ROOT/.lab/secrets.yml"
  install -m 0600 "$ROOT/.lab/secrets.yml" "$ROOT/inventories/lab/group_vars/all/vault.yml"
  write_inventory
}

# The running lab hosts as a static inventory (git-ignored), next to the
# group structure in inventories/lab/hosts.yml: a static file costs nothing
# to parse, where a dynamic Docker inventory plugin added about 0.7 s to
# every ansible-playbook start.
write_inventory() {
  local file="$INVENTORY" name groups address group
  {
    echo "---"
    echo "# Written by scripts/lab.sh up (removed by down): the running lab hosts."
    echo "all:"
    echo "  hosts:"
    for name in $(docker ps --filter label=alicia.lab=1 --filter status=running --format '{{.Names}}' | sort); do
      address=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$NETWORK\").IPAddress }}" "$name")
      echo "    $name: {ansible_connection: community.docker.docker, ansible_host: $name, alicia_address: $address}"
    done
    echo "  children:"
    for group in alicia_broker ${PHASES//,/ }; do
      echo "    $group:"
      echo "      hosts:"
      for name in $(docker ps --filter label=alicia.lab=1 --filter status=running --format '{{.Names}}' | sort); do
        groups=$(docker inspect -f '{{ index .Config.Labels "alicia.groups" }}' "$name")
        case ",$groups," in *",$group,"*) echo "        $name: {}" ;; esac
      done
    done
  } > "$INVENTORY.tmp"
  mv "$INVENTORY.tmp" "$INVENTORY"
  log "inventory: ${INVENTORY#"$ROOT"/}"
}

down() {
  for name in $(docker ps -a --filter label=alicia.lab=1 --format '{{.Names}}'); do
    docker rm -f "$name" >/dev/null && log "removed $name"
  done
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    docker network rm "$NETWORK" >/dev/null && log "removed network $NETWORK"
  fi
  rm -f "$INVENTORY"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) docker ps -a --filter label=alicia.lab=1 --format 'table {{.Names}}\t{{.Status}}\t{{.Label "alicia.groups"}}' ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
