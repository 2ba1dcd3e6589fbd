# -*- coding: utf-8 -*-
"""A fake host's accounts for the system_account tests: getent, groupadd, groupmod, useradd, usermod.

Not a test module (no test_ prefix): the module_utils tests call
``FakeAccounts.run`` in process, the module tests run ``main()`` below as
fake binaries on PATH, the state kept in a JSON file.

The behaviour follows Debian 12's glibc getent and shadow 4.13 tools, as
checked in a bookworm container: getent exits 2 when a key is not found and
prints entries in key order; groupadd/useradd --system pick the highest free
id below 1000; groupmod -g moves the users whose primary group it is;
useradd without -g and without --no-user-group creates a user-private group
(USERGROUPS_ENAB yes); useradd leaves the password ``!`` unless -p is given;
usermod -L puts ``!`` in front of the shadow field; usermod -G without -a
replaces the supplementary groups. Error codes and messages are shadow's.
"""

import json
import os
import sys

SYSTEM_MAX = 999
SBIN = ("groupadd", "groupmod", "useradd", "usermod")


def group_entry(line):
    name, passwd, gid, members = line.split(":")
    return dict(name=name, passwd=passwd, gid=int(gid), members=[m for m in members.split(",") if m])


def user_entry(line):
    name, passwd, uid, gid, comment, home, shell = line.split(":")
    return dict(name=name, passwd=passwd, uid=int(uid), gid=int(gid), comment=comment, home=home, shell=shell)


BASE_GROUPS = """root:x:0:
daemon:x:1:
adm:x:4:
users:x:100:
systemd-journal:x:999:
nogroup:x:65534:
"""
BASE_PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
BASE_SHADOW = {"root": "*", "daemon": "*", "nobody": "*"}


class FakeAccounts(object):
    """Accounts of a fake host; ``run(argv)`` answers like the real tools and logs every call."""

    def __init__(self, groups=BASE_GROUPS, passwd=BASE_PASSWD, shadow=None, root=True, fail=None, inert=()):
        self.groups = [group_entry(line) for line in groups.splitlines() if line]
        self.users = [user_entry(line) for line in passwd.splitlines() if line]
        self.shadow = dict(BASE_SHADOW if shadow is None else shadow)
        for user in self.users:
            self.shadow.setdefault(user["name"], "*")
        self.root = root
        # tool -> (rc, stderr): that tool fails without changing anything.
        self.fail = dict(fail or {})
        # tools that exit 0 and change nothing (to test the read-back).
        self.inert = set(inert)
        self.calls = []
        self.created_homes = []

    # -- state -------------------------------------------------------------
    def to_json(self):
        return dict(groups=self.groups, users=self.users, shadow=self.shadow, root=self.root,
                    fail=self.fail, inert=sorted(self.inert), calls=self.calls, created_homes=self.created_homes)

    @classmethod
    def from_json(cls, data):
        fake = cls(groups="", passwd="", shadow={}, root=data["root"], fail=data["fail"], inert=data["inert"])
        fake.groups, fake.users, fake.shadow = data["groups"], data["users"], data["shadow"]
        fake.calls, fake.created_homes = data["calls"], data["created_homes"]
        return fake

    def group(self, name):
        return next((g for g in self.groups if g["name"] == name), None)

    def user(self, name):
        return next((u for u in self.users if u["name"] == name), None)

    def group_line(self, name):
        g = self.group(name)
        return "%s:%s:%d:%s" % (g["name"], g["passwd"], g["gid"], ",".join(g["members"]))

    def passwd_line(self, name):
        u = self.user(name)
        return "%s:%s:%d:%d:%s:%s:%s" % (u["name"], u["passwd"], u["uid"], u["gid"], u["comment"], u["home"],
                                         u["shell"])

    def tools(self):
        """Tools that ran, in order (getent included)."""
        return [os.path.basename(call[0]) for call in self.calls]

    def changing_calls(self):
        """The calls that are not getent, tool names without their paths."""
        return [[os.path.basename(call[0])] + call[1:] for call in self.calls
                if os.path.basename(call[0]) != "getent"]

    # -- tools -------------------------------------------------------------
    @staticmethod
    def which(tool):
        return ("/usr/sbin/" if tool in SBIN else "/usr/bin/") + tool

    def run(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        tool = os.path.basename(argv[0])
        if tool in self.fail:
            rc, err = self.fail[tool]
            return rc, "", err
        if tool in self.inert:
            return 0, "", ""
        return getattr(self, "_" + tool)(argv[1:])

    def _free_id(self, used):
        for candidate in range(SYSTEM_MAX, 100, -1):
            if candidate not in used:
                return candidate
        raise AssertionError("no free system id")

    def _getent(self, args):
        database, keys = args[0], args[1:]
        if database == "group":
            entries, key_of = self.groups, (lambda e: (e["name"], str(e["gid"])))
            line = self.group_line
        elif database == "passwd":
            entries, key_of = self.users, (lambda e: (e["name"], str(e["uid"])))
            line = self.passwd_line
        elif database == "shadow":
            if not self.root:
                return 2, "", ""
            lines = ["%s:%s:20000:0:99999:7:::" % (k, self.shadow[k]) for k in keys if k in self.shadow]
            return (0 if len(lines) == len(keys) else 2), "".join(x + "\n" for x in lines), ""
        else:
            return 1, "", "Unknown database: %s\n" % database
        if not keys:
            return 0, "".join(line(e["name"]) + "\n" for e in entries), ""
        out, rc = [], 0
        for key in keys:
            found = next((e for e in entries if key in key_of(e)), None)
            if found is None:
                rc = 2
            else:
                out.append(line(found["name"]))
        return rc, "".join(x + "\n" for x in out), ""

    @staticmethod
    def _options(args, flags, valued):
        """Parse args of a shadow tool: returns (options dict, positional)."""
        options, positional, index = {}, [], 0
        while index < len(args):
            arg = args[index]
            if arg in flags:
                options[flags[arg]] = True
            elif arg in valued:
                options[valued[arg]] = args[index + 1]
                index += 1
            elif arg.startswith("-"):
                raise AssertionError("fake tool: unexpected option %s in %r" % (arg, args))
            else:
                positional.append(arg)
            index += 1
        assert len(positional) == 1, "fake tool: one name expected in %r" % args
        return options, positional[0]

    def _groupadd(self, args):
        opts, name = self._options(args, {"--system": "system", "-r": "system"}, {"-g": "gid", "--gid": "gid"})
        if self.group(name):
            return 9, "", "groupadd: group '%s' already exists\n" % name
        used = set(g["gid"] for g in self.groups)
        if "gid" in opts:
            gid = int(opts["gid"])
            if gid in used:
                return 4, "", "groupadd: GID '%d' already exists\n" % gid
        else:
            gid = self._free_id(used)
        self.groups.append(dict(name=name, passwd="x", gid=gid, members=[]))
        return 0, "", ""

    def _groupmod(self, args):
        opts, name = self._options(args, {}, {"-g": "gid", "--gid": "gid"})
        group = self.group(name)
        if group is None:
            return 6, "", "groupmod: group '%s' does not exist\n" % name
        gid = int(opts["gid"])
        if any(g["gid"] == gid and g["name"] != name for g in self.groups):
            return 4, "", "groupmod: GID '%d' already exists\n" % gid
        for user in self.users:
            if user["gid"] == group["gid"]:
                user["gid"] = gid
        group["gid"] = gid
        return 0, "", ""

    def _resolve_group(self, text):
        if text.isdigit():
            return next((g for g in self.groups if g["gid"] == int(text)), None)
        return self.group(text)

    def _useradd(self, args):
        opts, name = self._options(
            args, {"--system": "system", "-r": "system", "--no-create-home": "no_home", "-M": "no_home",
                   "--create-home": "home_create", "-m": "home_create", "--no-user-group": "no_user_group",
                   "-N": "no_user_group"},
            {"-g": "group", "-u": "uid", "-G": "groups", "-c": "comment", "-s": "shell", "-d": "home",
             "-p": "password"})
        if self.user(name):
            return 9, "", "useradd: user '%s' already exists\n" % name
        if "group" in opts:
            primary = self._resolve_group(opts["group"])
            if primary is None:
                return 6, "", "useradd: group '%s' does not exist\n" % opts["group"]
        elif not opts.get("no_user_group"):
            if self.group(name):
                return 9, "", ("useradd: group %s exists - if you want to add this user to that group, "
                               "use -g.\n" % name)
            primary = None
        else:
            primary = self.group("users")
        extra = [g for g in opts.get("groups", "").split(",") if g]
        for group in extra:
            if self.group(group) is None:
                return 6, "", "useradd: group '%s' does not exist\n" % group
        used = set(u["uid"] for u in self.users)
        if "uid" in opts:
            uid = int(opts["uid"])
            if uid in used:
                return 4, "", "useradd: UID %d is not unique\n" % uid
        else:
            uid = self._free_id(used)
        if primary is None:  # the user-private group useradd makes
            self.groups.append(dict(name=name, passwd="x", gid=self._free_id(set(g["gid"] for g in self.groups)),
                                    members=[]))
            primary = self.group(name)
        home = opts.get("home", "/home/" + name)
        if opts.get("home_create"):
            self.created_homes.append(home)
        self.users.append(dict(name=name, passwd="x", uid=uid, gid=primary["gid"], comment=opts.get("comment", ""),
                               home=home, shell=opts.get("shell", "/bin/sh")))
        for group in extra:
            self.group(group)["members"].append(name)
        self.shadow[name] = opts.get("password", "!")
        return 0, "", ""

    def _usermod(self, args):
        opts, name = self._options(
            args, {"-a": "append", "--append": "append", "-L": "lock", "--lock": "lock"},
            {"-g": "group", "-u": "uid", "-G": "groups", "-c": "comment", "-s": "shell", "-d": "home"})
        user = self.user(name)
        if user is None:
            return 6, "", "usermod: user '%s' does not exist\n" % name
        if "uid" in opts:
            uid = int(opts["uid"])
            if any(u["uid"] == uid and u["name"] != name for u in self.users):
                return 4, "", "usermod: UID '%d' already exists\n" % uid
            user["uid"] = uid
        if "group" in opts:
            primary = self._resolve_group(opts["group"])
            if primary is None:
                return 6, "", "usermod: group '%s' does not exist\n" % opts["group"]
            user["gid"] = primary["gid"]
        for key in ("comment", "shell", "home"):
            if key in opts:
                user[key] = opts[key]
        if "groups" in opts:
            wanted = [g for g in opts["groups"].split(",") if g]
            for group in wanted:
                if self.group(group) is None:
                    return 6, "", "usermod: group '%s' does not exist\n" % group
            for group in self.groups:
                if group["name"] in wanted and name not in group["members"]:
                    group["members"].append(name)
                elif not opts.get("append") and group["name"] not in wanted and name in group["members"]:
                    group["members"].remove(name)
        if opts.get("lock") and not self.shadow[name].startswith("!"):
            self.shadow[name] = "!" + self.shadow[name]
        return 0, "", ""


def main():
    """Run as a fake binary (symlinked as getent, groupadd, ...): the state in $FAKE_ACCOUNTS_STATE."""
    path = os.environ["FAKE_ACCOUNTS_STATE"]
    with open(path) as handle:
        fake = FakeAccounts.from_json(json.load(handle))
    rc, out, err = fake.run(sys.argv)
    with open(path, "w") as handle:
        json.dump(fake.to_json(), handle, indent=1)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
