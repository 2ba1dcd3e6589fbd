#!/usr/bin/env bash
# Build the systemd-capable Debian 12 lab/test image from scratch
# (debootstrap + docker import). No registry is needed or used.
#   scripts/lab-image.sh            build only when the image is missing
#   REBUILD=1 scripts/lab-image.sh  build again
set -euo pipefail

IMAGE="${LAB_IMAGE:-alicia-test/debian:bookworm}"
SUITE=bookworm
INCLUDE="python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,procps,sudo,ca-certificates,gnupg"

log() { printf '[lab-image] %s\n' "$*"; }

if [ "${REBUILD:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE present, reusing it (REBUILD=1 to build it again)"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

# The mirror comes from this machine's own apt sources, never from the repo.
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt sources" >&2; exit 1; }

rootfs=$(mktemp -d /tmp/alicia-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap $SUITE from $mirror"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$mirror" >/tmp/alicia-debootstrap.log 2>&1 \
  || { tail -n 20 /tmp/alicia-debootstrap.log >&2; exit 1; }

# Same apt sources as the build machine (bookworm, updates, security).
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  rm -f "$rootfs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
fi
# Trust the same extra certificate authorities as the build machine, so
# HTTPS (pip) works from inside lab hosts.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
fi
# A container has no consoles and no udev: keep systemd quiet and quick.
chroot "$rootfs" systemctl mask getty@tty1.service serial-getty@.service \
  systemd-udevd.service systemd-udev-trigger.service systemd-firstboot.service \
  >/dev/null 2>&1 || true
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$rootfs/etc/apt/apt.conf.d/90alicia-norecommends"
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

log "importing as $IMAGE"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' - "$IMAGE" >/dev/null
log "built $IMAGE"
