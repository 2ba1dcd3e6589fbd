# -*- coding: utf-8 -*-
"""A fake HAProxy runtime API on a UNIX socket, for the haproxy_server tests.

Not a test module (no test_ prefix). ``FakeHAProxy(servers)`` serves, in a
thread, HAProxy 2.6's non-interactive mode: one command per connection,
answered, then the connection closed. Only what
alicia.platform.haproxy_server uses, with the answers of Debian 12's
haproxy 2.6.12 as checked on a host:

* ``show servers state [<backend>]``: the version line ``1``, the header,
  one line per server (``Can't find backend.`` for an unknown backend);
* ``set server <b>/<s> state ready|drain|maint``: an empty line, or
  ``No such backend.`` / ``No such server.``; the SRV_ADMF flags change as
  HAProxy changes them (ready clears FMAINT and FDRAIN, drain sets FDRAIN
  and clears FMAINT, maint sets FMAINT and clears FDRAIN; CMAINT stays);
* ``set weight <b>/<s> <n>``: an empty line, or ``Absolute weight can only
  be between 0 and 256 inclusive.``;
* ``show stat``: the CSV of the counters the canary reads (``# pxname,svname,...``),
  one row per server (status UP or DOWN from its operational state); each
  call first adds ``traffic[(backend, server)]`` (``{"2xx": n, "5xx": n}``)
  to that server's counters, as if requests had been served since;
* anything else: ``Unknown command``.

Fault knobs: ``refuse`` (command prefix -> the answer HAProxy gives
instead), ``sticky_weight`` (weights accepted but never applied),
``silent`` (connections accepted, never answered). ``log`` lists every
command received.
"""

import os
import socket
import tempfile
import threading

HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
          "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
          "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
          "srv_check_port srv_check_addr srv_agent_addr srv_agent_port")
FMAINT, CMAINT, FDRAIN = 0x01, 0x04, 0x08


def server(backend, name, port, weight=100, admin=0, op=2, address="127.0.0.1", initial=None):
    return {"backend": backend, "name": name, "port": port, "uweight": weight,
            "iweight": weight if initial is None else initial, "admin": admin, "op": op, "address": address}


class FakeHAProxy(object):
    def __init__(self, servers):
        self.servers = servers
        self.log = []
        self.refuse = {}
        self.sticky_weight = False
        self.silent = False
        self.traffic = {}
        self.counts = {}
        self.directory = tempfile.mkdtemp(prefix="fake-haproxy-", dir="/tmp")
        self.path = os.path.join(self.directory, "admin.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    # -- the state --------------------------------------------------------

    def find(self, backend, name):
        for srv in self.servers:
            if srv["backend"] == backend and srv["name"] == name:
                return srv
        return None

    def state_of(self, backend, name):
        srv = self.find(backend, name)
        return srv["admin"], srv["uweight"]

    def show(self, backend=None):
        backends = []
        for srv in self.servers:
            if srv["backend"] not in backends:
                backends.append(srv["backend"])
        if backend is not None and backend not in backends:
            return "Can't find backend.\n"
        lines = ["1", HEADER]
        for srv in self.servers:
            if backend is not None and srv["backend"] != backend:
                continue
            be_id = backends.index(srv["backend"]) + 3
            srv_id = [s for s in self.servers if s["backend"] == srv["backend"]].index(srv) + 1
            lines.append("%d %s %d %s %s %d %d %d %d 8 15 3 3 6 0 0 0 - %d - 0 0 - - 0" % (
                be_id, srv["backend"], srv_id, srv["name"], srv["address"], srv["op"], srv["admin"],
                srv["uweight"], srv["iweight"], srv["port"]))
        return "\n".join(lines) + "\n\n"

    def stat(self):
        lines = ["# pxname,svname,scur,stot,econ,eresp,status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,"]
        for srv in self.servers:
            key = (srv["backend"], srv["name"])
            counts = self.counts.setdefault(key, {"2xx": 0, "5xx": 0})
            for kind, more in (self.traffic.get(key) or {}).items():
                counts[kind] += more
            lines.append("%s,%s,0,%d,0,0,%s,0,%d,0,0,%d,0," % (
                key[0], key[1], counts["2xx"] + counts["5xx"], "UP" if srv["op"] == 2 else "DOWN",
                counts["2xx"], counts["5xx"]))
        return "\n".join(lines) + "\n\n"

    def answer(self, line):
        for prefix, reply in self.refuse.items():
            if line.startswith(prefix):
                return reply
        words = line.split()
        if words == ["show", "stat"]:
            return self.stat()
        if words[:3] == ["show", "servers", "state"]:
            return self.show(words[3] if len(words) > 3 else None)
        if words[:2] == ["set", "server"] and len(words) == 5 and words[3] == "state":
            target = self._target(words[2])
            if isinstance(target, str):
                return target
            if words[4] == "ready":
                target["admin"] &= ~(FMAINT | FDRAIN)
            elif words[4] == "drain":
                target["admin"] = (target["admin"] | FDRAIN) & ~FMAINT
            elif words[4] == "maint":
                target["admin"] = (target["admin"] | FMAINT) & ~FDRAIN
            else:
                return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
            return "\n"
        if words[:2] == ["set", "weight"] and len(words) == 4:
            target = self._target(words[2])
            if isinstance(target, str):
                return target
            weight = int(words[3])
            if not 0 <= weight <= 256:
                return "Absolute weight can only be between 0 and 256 inclusive.\n"
            if not self.sticky_weight:
                target["uweight"] = weight
            return "\n"
        return "Unknown command: '%s'\n" % words[0]

    def _target(self, spec):
        backend, _slash, name = spec.partition("/")
        if backend not in [srv["backend"] for srv in self.servers]:
            return "No such backend.\n"
        return self.find(backend, name) or "No such server.\n"

    # -- the socket -------------------------------------------------------

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                line = data.decode().strip()
                with self.lock:
                    self.log.append(line)
                    if self.silent:
                        conn.recv(1)  # until the client gives up
                        continue
                    reply = self.answer(line)
                conn.sendall(reply.encode())

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.directory)
        except OSError:
            pass
