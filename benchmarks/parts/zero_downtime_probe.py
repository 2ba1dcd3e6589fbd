#!/usr/bin/env python3
"""The zero_downtime part's probe, copied to a lab host and run THERE (python3, standard library only).

    python3 zero_downtime_probe.py CONFIG.json

CONFIG (JSON): {"out": path, "stop": path, "ready": path, "limit": s, "pause": s, "max_samples": n,
"load": url or null, "watch": {name: url}, "haproxy": {"socket": path, "backend": name} or null,
"history": path or null}. Every URL is the host's own loopback (the part builds them so): the load and
the pollers never leave the host.

Until the stop file appears, or `limit` seconds, or `max_samples` samples per stream (whichever first),
threads record with the host's wall clock (time.time()):

  * load: one GET of the `load` URL at a time, `pause` s apart (timeout 3 s):
    [t, ok, latency_ms, version, error] (ok: HTTP 200 and JSON status "healthy");
  * watch: the same GET of each named URL: [t, healthy, version];
  * haproxy: `show servers state <backend>` on the runtime API every 0.1 s, a sample when a server's
    state changes: [t, {server: "ready"|"drain"|"maint" + "/" + operational state}];
  * history: the deployment history's modification time every 0.05 s; when it changes, the records
    new since the start: [mtime, [[service, from, to, result, strategy], ...]].

Then it writes {"started", "ended", "load", "watch", "haproxy", "history"} to `out` (a temporary file
renamed). The file `ready` is created once every thread has started.
"""

import json
import os
import socket
import sys
import threading
import time
import urllib.request

OPERATIONAL = {"0": "down", "1": "starting", "2": "up", "3": "stopping"}


class Stream(threading.Thread):
    def __init__(self, probe, period, step):
        super().__init__(daemon=True)
        self.probe, self.period, self.step = probe, period, step
        self.samples = []

    def run(self):
        while not self.probe.finished() and len(self.samples) < self.probe.max_samples:
            started = time.monotonic()
            try:
                sample = self.step()
            except Exception:  # a probe never dies of one bad read (get_health catches its own)
                sample = None
            if sample is not None:
                self.samples.append(sample)
            time.sleep(max(0.0, self.period - (time.monotonic() - started)))


def get_health(url):
    """(ok, latency_ms, version, error) of one GET /health."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            status, raw = answer.status, answer.read()
        body = json.loads(raw.decode("utf-8", "replace"))
        ok = status == 200 and body.get("status") == "healthy"
        return ok, (time.monotonic() - started) * 1000.0, body.get("version"), None if ok else \
            "status %s %r" % (status, body.get("status"))
    except Exception as exc:
        return False, (time.monotonic() - started) * 1000.0, None, repr(exc)[:200]


def servers_state(path, backend):
    """{server: state} of a backend from HAProxy's runtime API (one command per connection)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(path)
        sock.sendall(("show servers state %s\n" % backend).encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    header, found = None, {}
    for line in b"".join(chunks).decode("utf-8", "replace").splitlines()[1:]:
        if line.startswith("#"):
            header = line.lstrip("#").split()
        elif line.strip() and header:
            row = dict(zip(header, line.split()))
            admin = int(row.get("srv_admin_state", "0"))
            state = "maint" if admin & 0x01 else "drain" if admin & 0x08 else "ready"
            found[row.get("srv_name")] = "%s/%s" % (state, OPERATIONAL.get(row.get("srv_op_state"), "unknown"))
    return found


def history_records(path):
    with open(path) as handle:
        doc = json.load(handle)
    return [[r.get("service"), r.get("from"), r.get("to"), r.get("result"), r.get("strategy"), r.get("id"),
             r.get("start")] for r in doc.get("deployments", [])]


class Probe:
    def __init__(self, config):
        self.config = config
        self.stop = config["stop"]
        self.end = time.monotonic() + float(config["limit"])
        self.max_samples = int(config.get("max_samples", 20000))
        self.streams = {}
        pause = float(config.get("pause", 0.05))
        if config.get("load"):
            self.streams["load"] = Stream(self, pause, self.load_step(config["load"]))
        for name, url in sorted((config.get("watch") or {}).items()):
            self.streams["watch:" + name] = Stream(self, pause, self.watch_step(url))
        if config.get("haproxy"):
            self.last_servers = None
            self.streams["haproxy"] = Stream(self, 0.1, self.haproxy_step(config["haproxy"]))
        if config.get("history"):
            self.history_seen = self.history_mtime = None
            self.streams["history"] = Stream(self, 0.05, self.history_step(config["history"]))

    def finished(self):
        return time.monotonic() >= self.end or os.path.exists(self.stop)

    @staticmethod
    def load_step(url):
        def step():
            t = time.time()
            ok, latency, version, error = get_health(url)
            return [t, ok, round(latency, 2), version, error]
        return step

    @staticmethod
    def watch_step(url):
        def step():
            t = time.time()
            ok, _latency, version, _error = get_health(url)
            return [t, ok, version]
        return step

    def haproxy_step(self, balancer):
        def step():
            t = time.time()
            try:
                servers = servers_state(balancer["socket"], balancer["backend"])
            except OSError as exc:
                servers = {"error": repr(exc)[:100]}
            if servers == self.last_servers:
                return None
            self.last_servers = servers
            return [t, servers]
        return step

    def history_step(self, path):
        def step():
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                mtime = None
            if self.history_seen is not None and mtime == self.history_mtime:
                return None
            try:
                records = history_records(path) if mtime is not None else []
            except (OSError, ValueError):
                return None  # read again at the next step
            first = self.history_seen is None
            seen = self.history_seen or []
            self.history_mtime, self.history_seen = mtime, records
            if first:
                return None
            fresh = [record for record in records if record not in seen]
            return [mtime, fresh] if fresh else None
        return step

    def run(self):
        started = time.time()
        for stream in self.streams.values():
            stream.start()
        if self.config.get("ready"):
            open(self.config["ready"], "w").close()
        while not self.finished():
            time.sleep(0.05)
        for stream in self.streams.values():
            stream.join(10)
        result = {"started": started, "ended": time.time(),
                  "load": self.streams["load"].samples if "load" in self.streams else [],
                  "watch": dict((name[len("watch:"):], stream.samples) for name, stream in self.streams.items()
                                if name.startswith("watch:")),
                  "haproxy": self.streams["haproxy"].samples if "haproxy" in self.streams else [],
                  "history": self.streams["history"].samples if "history" in self.streams else []}
        out = self.config["out"]
        with open(out + ".tmp", "w") as handle:
            json.dump(result, handle)
        os.rename(out + ".tmp", out)
        return result


def main(argv):
    with open(argv[1]) as handle:
        config = json.load(handle)
    Probe(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
