# -*- coding: utf-8 -*-
"""A fake docker CLI for the containers tests: networks, images and containers in a JSON file.

Not a test module (no test_ prefix): the module_utils tests call
``FakeDocker.run`` in process, the module and action tests run this file as
the ``docker`` binary (``python3 fake_docker.py <state> <args...>`` through a
small wrapper script). Every call is logged.

Only what alicia.platform.containers uses, with the output formats and exit
codes of Debian 12's docker.io 20.10 as checked on a host: ``inspect`` of
several names prints a JSON list of those found, ``Error: No such <kind>:
<name>`` on stderr for the others and exits 1; ``start``/``stop``/``rm``
print the names they acted on; ``build --quiet`` prints the image id;
``load`` prints ``Loaded image: <tag>``; ``image rm`` prints ``Untagged:``
lines and refuses an image a container uses.

Networks as Docker 20.10 keeps them: a network has an ``Id`` (new on every
``network create``) and lists its running containers under ``Containers``;
a container records per network the ``NetworkID`` it was attached to, empty
until its first start, kept when it stops; ``start`` of a container whose
recorded network id no longer exists fails with ``network <id> not found``;
``network rm`` refuses a network with running containers ("has active
endpoints").

Fault knobs in the state: ``down`` (the daemon does not answer), an image
record's ``crash`` (its containers exit at once with ``crash_logs``),
``busy_ports`` (host ports already taken), a context file named FAIL (the
build fails).
"""

import datetime
import hashlib
import json
import os
import sys

UNREACHABLE = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?\n")
VALUE_FLAGS = ("--name", "--hostname", "--network", "--user", "--env-file", "--publish", "--volume", "--tmpfs",
               "--cap-drop", "--cap-add", "--security-opt", "--memory", "--memory-reservation", "--cpus",
               "--cpu-shares", "--restart", "--health-cmd", "--health-interval", "--health-timeout",
               "--health-retries", "--health-start-period", "--log-driver", "--log-opt", "--stop-timeout",
               "--label")


def now():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def image_id(seed):
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


class FakeDocker(object):
    """Docker state in a JSON file; ``run(argv)`` answers like the docker CLI."""

    def __init__(self, path, log=None):
        self.path = path
        self.log = log or path + ".calls"
        if not os.path.exists(path):
            self.save(dict(networks={}, images={}, containers={}, busy_ports=[], down=False, counter=0))

    # -- state ------------------------------------------------------------
    def load(self):
        with open(self.path) as handle:
            return json.load(handle)

    def save(self, data):
        with open(self.path, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)

    def calls(self, clear=True):
        """The argv (without the binary) of every call since the last time."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            calls = [json.loads(line) for line in handle if line.strip()]
        if clear:
            os.unlink(self.log)
        return calls

    def add_image(self, tag, **extra):
        data = self.load()
        data["images"][tag] = dict(dict(id=image_id(tag), labels={}), **extra)
        self.save(data)

    def update(self, kind, name, **values):
        data = self.load()
        data[kind][name].update(values)
        self.save(data)

    # -- the CLI ----------------------------------------------------------
    def run(self, argv):
        """(rc, stdout, stderr) of ``docker <argv[1:]>`` (argv[0] is the binary)."""
        args = list(argv[1:])
        with open(self.log, "a") as handle:
            handle.write(json.dumps(args) + "\n")
        data = self.load()
        if data.get("down"):
            return 1, "", UNREACHABLE
        if args[:2] in (["network", "inspect"], ["image", "inspect"], ["container", "inspect"]):
            return self.inspect(data, args[0], args[2:])
        handler = {("network", "create"): self.network_create, ("network", "rm"): self.network_rm,
                   ("load",): self.image_load,
                   ("build",): self.build, ("stop",): self.stop, ("rm",): self.rm, ("create",): self.create,
                   ("start",): self.start, ("logs",): self.logs, ("image", "ls"): self.image_ls,
                   ("image", "rm"): self.image_rm}
        for key, function in handler.items():
            if tuple(args[:len(key)]) == key:
                rc, out, err = function(data, args[len(key):])
                self.save(data)
                return rc, out, err
        return 125, "", "docker: unknown command %r\n" % args

    def inspect(self, data, kind, names):
        store = data[kind + "s"]
        found, err = [], ""
        for name in names:
            key = name
            if kind == "image" and name not in store and ":" not in name.rsplit("/", 1)[-1]:
                key = name + ":latest"
            if kind == "image" and key not in store:
                key = next((tag for tag, rec in store.items() if rec["id"] == name), key)
            if key not in store:
                err += "Error: No such %s: %s\n" % (kind, name)
                continue
            found.append(self.document(data, kind, key, store[key]))
        return (1 if err else 0), json.dumps(found), err

    def document(self, data, kind, name, rec):
        if kind == "network":
            config = dict((field, rec[key]) for key, field in (("subnet", "Subnet"), ("ip_range", "IPRange"),
                                                                ("gateway", "Gateway")) if rec.get(key))
            attached = dict((c["id"], {"Name": n, "EndpointID": "ep" + c["id"][:10]})
                            for n, c in sorted(data["containers"].items())
                            if c["status"] == "running" and rec.get("id") in c.get("networks", {}).values())
            return {"Name": name, "Id": rec.get("id", ""), "Driver": rec["driver"],
                    "IPAM": {"Driver": "default", "Config": [config]}, "Options": {},
                    "Labels": rec.get("labels", {}), "Containers": attached}
        if kind == "image":
            return {"Id": rec["id"], "RepoTags": [name], "Config": {"Labels": rec.get("labels", {})}}
        health = {"Status": rec["health"]} if rec.get("health") else None
        state = {"Status": rec["status"], "Running": rec["status"] == "running"}
        if health:
            state["Health"] = health
        networks = dict((net, {"NetworkID": net_id, "IPAddress": "10.0.0.2" if rec["status"] == "running" else ""})
                        for net, net_id in rec.get("networks", {}).items())
        return {"Name": "/" + name, "Id": rec["id"], "Image": rec["image_id"], "Created": rec["created"],
                "NetworkSettings": {"Networks": networks},
                "LogPath": "/var/lib/docker/containers/%s/%s-json.log" % (rec["id"], rec["id"]),
                "Config": {"Image": rec["image"], "Labels": rec["labels"], "Env": ["MQTT_PASSWORD=not-for-results"]},
                "State": state, "HostConfig": {"RestartPolicy": {"Name": rec["flags"].get("--restart", [""])[0]}}}

    def network_create(self, data, args):
        name = args[-1]
        flags = self.parse(args[:-1])[0]
        if name in data["networks"]:
            return 1, "", "Error response from daemon: network with name %s already exists\n" % name
        data["counter"] += 1
        network_id = hashlib.sha256(("network %s %d" % (name, data["counter"])).encode()).hexdigest()
        data["networks"][name] = dict(id=network_id, driver=flags["--driver"][0],
                                      subnet=flags.get("--subnet", [None])[0],
                                      ip_range=flags.get("--ip-range", [None])[0],
                                      gateway=flags.get("--gateway", [None])[0],
                                      labels=dict(v.split("=", 1) for v in flags.get("--label", [])))
        return 0, network_id + "\n", ""

    def network_rm(self, data, names):
        out, err = "", ""
        for name in names:
            rec = data["networks"].get(name)
            if rec is None:
                err += "Error: No such network: %s\n" % name
                continue
            if any(c["status"] == "running" and rec["id"] in c.get("networks", {}).values()
                   for c in data["containers"].values()):
                err += ("Error response from daemon: error while removing network: network %s id %s has active "
                        "endpoints\n" % (name, rec["id"]))
                continue
            del data["networks"][name]
            out += name + "\n"
        return (1 if err else 0), out, err

    def image_load(self, data, args):
        path = args[args.index("--input") + 1]
        with open(path) as handle:
            archive = json.load(handle)
        data.setdefault("loaded", []).append(path)
        for tag in archive["tags"]:
            data["images"][tag] = dict(id=image_id("loaded " + tag), labels={})
        return 0, "".join("Loaded image: %s\n" % tag for tag in archive["tags"]), ""

    def build(self, data, args):
        context = args[-1]
        flags = self.parse(args[:-1], no_value=("--quiet",))[0]
        if os.path.exists(os.path.join(context, "FAIL")):
            return 1, "", "The command '/bin/sh -c apt-get install nothing' returned a non-zero code: 100\n"
        with open(os.path.join(context, "Dockerfile")) as handle:
            base = [line.split()[1] for line in handle if line.startswith("FROM ")][0]
        if base not in data["images"]:
            return 1, "", "pull access denied for %s, repository does not exist\n" % base
        data["counter"] += 1
        tag = flags["--tag"][0]
        labels = dict(v.split("=", 1) for v in flags.get("--label", []))
        data["images"][tag] = dict(id=image_id("%s %d" % (tag, data["counter"])), labels=labels,
                                   crash=os.path.exists(os.path.join(context, "CRASH")))
        return 0, data["images"][tag]["id"] + "\n", ""

    def create(self, data, args):
        flags, rest = self.parse(args, no_value=("--read-only", "--no-healthcheck"))
        name = flags["--name"][0]
        image, command = rest[0], rest[1:]
        if name in data["containers"]:
            return 125, "", 'docker: Error response from daemon: Conflict. The container name "/%s" is already in use.\n' % name
        if image not in data["images"]:
            return 125, "", "Unable to find image '%s' locally\n" % image
        if "--network" in flags and flags["--network"][0] not in data["networks"]:
            return 125, "", "docker: Error response from daemon: network %s not found.\n" % flags["--network"][0]
        data["counter"] += 1
        data["containers"][name] = dict(
            id=hashlib.sha256(("%s %d" % (name, data["counter"])).encode()).hexdigest(), image=image,
            image_id=data["images"][image]["id"], created=now(), status="created", health=None,
            labels=dict(v.split("=", 1) for v in flags.get("--label", [])), flags=flags, command=command,
            starts=0, networks=dict((net, "") for net in flags.get("--network", [])))
        return 0, data["containers"][name]["id"] + "\n", ""

    def start(self, data, names):
        out, err = "", ""
        for name in names:
            rec = data["containers"].get(name)
            if rec is None:
                err += "Error: No such container: %s\n" % name
                continue
            busy = [p for p in rec["flags"].get("--publish", []) if int(p.split(":")[-2]) in data["busy_ports"]]
            if busy:
                err += ("Error response from daemon: driver failed programming external connectivity on endpoint "
                        "%s: Bind for 0.0.0.0:%s failed: port is already allocated\n" % (name, busy[0].split(":")[-2]))
                continue
            ids = dict((net["id"], n) for n, net in data["networks"].items() if net.get("id"))
            gone = [net_id or net for net, net_id in sorted(rec.get("networks", {}).items())
                    if (net_id and net_id not in ids) or (not net_id and net not in data["networks"])]
            if gone:
                err += "Error response from daemon: network %s not found\n" % gone[0]
                continue
            rec["networks"] = dict((net, net_id or data["networks"][net]["id"])
                                   for net, net_id in rec.get("networks", {}).items())
            rec["starts"] += 1
            image = [i for i in data["images"].values() if i["id"] == rec["image_id"]]
            rec["status"] = "exited" if image and image[0].get("crash") else "running"
            rec["health"] = "starting" if "--health-cmd" in rec["flags"] and rec["status"] == "running" else None
            out += name + "\n"
        if err:
            err += "Error: failed to start containers: %s\n" % " ".join(names)
        return (1 if err else 0), out, err

    def stop(self, data, names):
        for name in names:
            data["containers"][name]["status"] = "exited"
        return 0, "".join(n + "\n" for n in names), ""

    def rm(self, data, args):
        names = [a for a in args if not a.startswith("-")]
        for name in names:
            del data["containers"][name]
        return 0, "".join(n + "\n" for n in names), ""

    def logs(self, data, args):
        name = args[-1]
        rec = data["containers"][name]
        image = [i for i in data["images"].values() if i["id"] == rec["image_id"]]
        if image and image[0].get("crash"):
            return 0, "", "alicia_reference_service: configuration error: missing MQTT_PASSWORD\n"
        return 0, "2026-01-01T00:00:00Z INFO %s[1] HTTP listening\n" % name, ""

    def image_ls(self, data, args):
        label = args[args.index("--filter") + 1].split("=", 1)[1].split("=")[0]
        return 0, "".join("%s\n" % tag for tag, rec in sorted(data["images"].items()) if label in rec["labels"]), ""

    def image_rm(self, data, tags):
        out, err = "", ""
        for tag in tags:
            rec = data["images"][tag]
            users = [n for n, c in data["containers"].items() if c["image_id"] == rec["id"]]
            if users:
                err += ("Error response from daemon: conflict: unable to remove repository reference \"%s\" "
                        "(must force) - container %s is using its referenced image\n" % (tag, users[0][:12]))
                continue
            del data["images"][tag]
            out += "Untagged: %s\nDeleted: %s\n" % (tag, rec["id"])
        return (1 if err else 0), out, err

    @staticmethod
    def parse(args, no_value=()):
        """({flag: [values]}, the rest) of a docker command line."""
        flags, index = {}, 0
        while index < len(args) and args[index].startswith("--"):
            flag = args[index]
            if flag in no_value or flag not in VALUE_FLAGS + ("--driver", "--subnet", "--ip-range", "--gateway",
                                                               "--opt", "--tag"):
                flags.setdefault(flag, []).append(True)
                index += 1
            else:
                flags.setdefault(flag, []).append(args[index + 1])
                index += 2
        return flags, args[index:]


WRAPPER = """#!{python}
import sys
sys.path.insert(0, {directory!r})
from fake_docker import main
main({state!r})
"""


def write_binary(path, state):
    """A ``docker`` executable at ``path`` that runs this fake on ``state``."""
    with open(path, "w") as handle:
        handle.write(WRAPPER.format(python=sys.executable, directory=os.path.dirname(os.path.abspath(__file__)),
                                    state=state))
    os.chmod(path, 0o755)
    return path


def main(state):
    rc, out, err = FakeDocker(state).run(sys.argv)
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(rc)
