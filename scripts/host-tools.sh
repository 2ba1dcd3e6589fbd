#!/usr/bin/env bash
# Debian packages the controller needs for the tests and docs:
# mosquitto (the mqtt_check unit tests start a real broker), graphviz
# (make graph), nftables (unit tests render and check rulesets),
# python3-paho-mqtt (paho 1.6 as on lab targets: mqtt_check is tested with it),
# curl (benchmarks/run.py health_gate runs seed 000's curl sweep).
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
/usr/bin/python3 -c 'import paho.mqtt' >/dev/null 2>&1 || need+=(python3-paho-mqtt)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[host-tools] installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the packaged broker on 1883; the tests start their own.
if systemctl is-active --quiet mosquitto 2>/dev/null; then
  systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
exit 0
