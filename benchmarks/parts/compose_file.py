"""A docker-compose file generated from the resolved catalogue, in seed 000's shape.

Seed 000 deploys with docker-compose: one service per Alicia service with
its container name, published port, MQTT environment, on the
`alicia_network` bridge, depending on the broker. This generator writes
the same stack for the peer baseline of benchmarks/run.py (part compose):
every `kind: service` entry of the resolved catalogue (one container per
instance, instance ports published like the collection's docker runtime),
the image given (the reference service image the collection built), the
catalogue's resources as limits and reservations (compose file 3.8
`deploy.resources`, honoured by `docker-compose --compatibility`), a
health check reading /health's JSON status, json-file logs rotated at
50m x 5, read-only root and no capabilities as the collection's containers
run. The broker is not a compose service here: the services reach the
host's Mosquitto (deployed by the collection) at `broker`.

Pure: a dict in, a dict out (tests/unit/benchmarks/test_compose_file.py).
"""

HEALTH_TEST = ("import json, os, sys, urllib.request; "
               "d = json.load(urllib.request.urlopen('http://127.0.0.1:%s%s' % (os.environ['SERVICE_PORT'], "
               "sys.argv[1]), timeout=4)); sys.exit(0 if d.get('status') == 'healthy' else 1)")


def _cpus(value):
    return "%g" % float(value)


def _memory(value):
    """Catalogue sizes (512M, 1G) in compose's spelling (512M, 1G): kept, upper-cased."""
    return str(value).upper()


def compose_document(resolved, image, secrets, broker, broker_port=1883, network=None,
                     container_prefix="alicia_", health_interval="10s", health_start_period="5s",
                     health_retries=3):
    """The compose file (a dict) for every service of `resolved` ({name: resolved entry}).

    secrets: {service: {NAME: value}} (catalogue_secrets); each service gets the
    ones its entry lists under `secrets`, a missing one is an error naming it.
    network: {"name", "external", "subnet", "ip_range"}; default seed 000's
    alicia_network, 172.20.0.0/16."""
    network = dict({"name": "alicia_network", "external": False, "subnet": "172.20.0.0/16",
                    "ip_range": "172.20.240.0/20"}, **(network or {}))
    services = {}
    for name in sorted(resolved, key=lambda key: (resolved[key].get("phase_index", 0), key)):
        entry = resolved[name]
        if entry.get("kind") != "service":
            continue
        instances = entry.get("instance_list") or [{"name": name, "listen_port": entry["listen_port"]}]
        for index, instance in enumerate(instances):
            env = dict(entry.get("env") or {})
            env["SERVICE_PORT"] = str(instance["listen_port"])
            env["MQTT_BROKER"] = str(broker)
            env["MQTT_PORT"] = str(broker_port)
            for secret in entry.get("secrets") or []:
                try:
                    env[secret] = str(secrets[name][secret])
                except KeyError:
                    raise ValueError("compose: service %r: missing secret %r (catalogue_secrets.%s.%s)"
                                     % (name, secret, name, secret))
            if len(instances) > 1:
                env["SERVICE_INSTANCE"] = instance["name"]
            # One published port per service: the first instance takes the catalogue port (a balancer is the
            # collection's answer for more; compose has none), the others their own instance port.
            published = entry["port"] if index == 0 else instance["listen_port"]
            resources = entry.get("resources") or {}
            services[instance["name"]] = {
                "image": image,
                "container_name": "%s%s" % (container_prefix, instance["name"]),
                "ports": ["%d:%d" % (published, instance["listen_port"])],
                "environment": dict(sorted(env.items())),
                "networks": [network["name"]],
                "restart": "unless-stopped",
                "read_only": True,
                "cap_drop": ["ALL"],
                "deploy": {"resources": {
                    "limits": {"cpus": _cpus(resources.get("cpu_limit", 1.0)),
                               "memory": _memory(resources.get("memory_limit", "512M"))},
                    "reservations": {"cpus": _cpus(resources.get("cpu_reservation", 0.5)),
                                     "memory": _memory(resources.get("memory_reservation", "256M"))}}},
                "healthcheck": {"test": ["CMD", "python3", "-c", HEALTH_TEST,
                                         (entry.get("health") or {}).get("path", "/health")],
                                "interval": health_interval, "timeout": "5s", "retries": health_retries,
                                "start_period": health_start_period},
                "logging": {"driver": "json-file", "options": {"max-size": "50m", "max-file": "5"}},
            }
    if network["external"]:
        networks = {network["name"]: {"external": True}}
    else:
        networks = {network["name"]: {"driver": "bridge", "ipam": {"config": [
            {"subnet": network["subnet"], "ip_range": network["ip_range"]}]}}}
    return {"version": "3.8", "services": services, "networks": networks}
