# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake supervisorctl over a JSON state: `config` (program -> section text,
what conf.d holds), `loaded` (program -> section supervisord runs with) and
`procs` (program -> {state, pid}). Implements status, update, start, stop,
restart and remove like supervisor 4.2 (status rc 3 when a program does not
run; "ERROR (already started)"). Used in-process (FakeSupervisor.run) and
as a script (main, state file in FAKE_SUPERVISOR_STATE)."""

import json
import os
import sys


class FakeSupervisor(object):
    def __init__(self, config=None, loaded=None, procs=None, calls=None, next_pid=100):
        self.config = dict(config or {})
        self.loaded = dict(loaded or {})
        self.procs = dict(procs or {})
        self.calls = list(calls or [])
        self.next_pid = next_pid

    def to_json(self):
        return dict(config=self.config, loaded=self.loaded, procs=self.procs, calls=self.calls,
                    next_pid=self.next_pid)

    @classmethod
    def from_json(cls, data):
        return cls(**data)

    def _spawn(self, name):
        self.next_pid += 1
        self.procs[name] = {"state": "RUNNING", "pid": self.next_pid}

    def _status(self):
        lines, rc = [], 0
        for name in sorted(self.loaded):
            proc = self.procs.get(name, {"state": "STOPPED", "pid": None})
            if proc["state"] == "RUNNING":
                lines.append("%-30s RUNNING   pid %d, uptime 0:00:05" % (name, proc["pid"]))
            else:
                lines.append("%-30s %s   Not started" % (name, proc["state"]))
                rc = 3
        return rc, "\n".join(lines) + ("\n" if lines else ""), ""

    def run(self, argv):
        args = [a for a in argv[1:]]
        if args[:1] == ["-c"]:
            args = args[2:]
        self.calls.append(args)
        verb, names = args[0], args[1:]
        if verb == "status":
            return self._status()
        out = []
        if verb == "update":
            for name in sorted(set(self.loaded) - set(self.config)):
                self.procs.pop(name, None)
                del self.loaded[name]
                out.append("%s: stopped\n%s: removed process group" % (name, name))
            for name in sorted(self.config):
                if name not in self.loaded:
                    self.loaded[name] = self.config[name]
                    self._spawn(name)
                    out.append("%s: added process group" % name)
                elif self.loaded[name] != self.config[name]:
                    self.loaded[name] = self.config[name]
                    self._spawn(name)
                    out.append("%s: stopped\n%s: updated process group" % (name, name))
            return 0, "\n".join(out) + "\n", ""
        rc = 0
        for name in names:
            if name not in self.loaded:
                out.append("%s: ERROR (no such process)" % name)
                rc = 1
                continue
            running = self.procs.get(name, {}).get("state") == "RUNNING"
            if verb == "start":
                if running:
                    out.append("%s: ERROR (already started)" % name)
                else:
                    self._spawn(name)
                    out.append("%s: started" % name)
            elif verb == "stop":
                if running:
                    self.procs[name] = {"state": "STOPPED", "pid": None}
                    out.append("%s: stopped" % name)
                else:
                    out.append("%s: ERROR (not running)" % name)
            elif verb == "restart":
                if running:
                    out.append("%s: stopped" % name)
                self._spawn(name)
                out.append("%s: started" % name)
            elif verb == "remove":
                if running:
                    out.append("%s: ERROR (process/group still running)" % name)
                else:
                    del self.loaded[name]
                    self.procs.pop(name, None)
                    out.append("%s: removed process group" % name)
            else:
                return 2, "", "*** Unknown syntax: %s\n" % verb
        return rc, "\n".join(out) + "\n", ""


def main():
    path = os.environ["FAKE_SUPERVISOR_STATE"]
    with open(path) as handle:
        fake = FakeSupervisor.from_json(json.load(handle))
    rc, out, err = fake.run(sys.argv)
    with open(path, "w") as handle:
        json.dump(fake.to_json(), handle)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
