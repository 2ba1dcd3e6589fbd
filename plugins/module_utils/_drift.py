# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report (playbooks/drift.yml), in plain Python: what differs on
each host from the declared state, per service (and per baseline component
and the broker), read from check-mode results the playbook already has.

- ``host_findings``: one host's findings, from the platform plan's check-mode
  results (the files batch with its units' states, containers, virtualenvs,
  supervisor programs, manual services: roles/service/tasks/plan.yml) and
  the baseline's and broker's checks (``components``);
- ``report``: every host's findings as one document (the JSON file);
- ``junit``: that document as JUnit XML (one test case per host and service);
- ``summary``: a few lines for the console, and ``failure``: the message that
  names each host and service that drifted.

A finding says WHAT differs (a file missing, changed, with other owner or
mode, or present where it should not be; a unit not running or not enabled;
a container, program, manual instance or virtualenv that would change; a
package missing; a sysctl key...), never HOW: no content and no diff of any
file is read or written here, so no secret (environment files hold them)
can reach the report.

Private: reached through plugins/filter/drift.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from xml.sax.saxutils import escape, quoteattr

# What a file's ``action`` (the files module's per-path result) means when it is a drift.
FILE_STATES = {
    "created": "missing",
    "updated": "differs",
    "attributes": "owner, group or mode differ",
    "removed": "present, should be absent",
}

# The scopes of what is checked on a host, in the report's order.
SCOPES = ("baseline", "broker", "service")


class DriftError(ValueError):
    """Bad input to the drift report."""


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _finding(kind, target, state, **extra):
    found = {"kind": kind, "target": target, "state": state}
    found.update((k, v) for k, v in extra.items() if v not in (None, "", [], {}))
    return found


def _add(found, name, finding):
    items = found.setdefault(name, [])
    if finding not in items:
        items.append(finding)


# ---- Files ----------------------------------------------------------------------------

def _file_kind(entry):
    if entry.get("secret"):
        return "environment file" if str(entry.get("path", "")).endswith(".env") else "secret file"
    state = entry.get("state") or "file"
    if state == "link":
        return "link"
    if state in ("directory", "tree"):
        return "directory"
    return "file"


def file_findings(files_result, batch=None):
    """``(entry, finding)`` for each changed path of a files module result, in its order.

    ``batch`` (the entries the module was given) says each path's key and
    whether it holds a secret; a path under a ``tree`` entry belongs to it.
    Without it the entry is ``{}``. Only the path and what the module did
    are read: never content, never a diff.
    """
    entries = dict((str(e.get("path", "")).rstrip("/") or "/", e) for e in _list(batch) if isinstance(e, dict))
    trees = [(path, e) for path, e in entries.items() if e.get("state") == "tree"]
    found = []
    for path, result in _dict(_dict(files_result).get("files")).items():
        result = _dict(result)
        if not result.get("changed"):
            continue
        entry = entries.get(path.rstrip("/") or "/")
        if entry is None:
            entry = next((e for root, e in trees if path.startswith(root + "/")), {})
        kind = _file_kind(entry) if entry else ("directory" if result.get("state") == "directory" else "file")
        if result.get("pruned"):
            kind, state = "file", "present, should be absent"
        else:
            state = FILE_STATES.get(result.get("action"), result.get("action") or "differs")
            if kind == "link" and result.get("action") == "updated":
                state = "points elsewhere"
        found.append((entry, _finding(kind, path, state)))
    return found


def unit_findings(units):
    """``(unit, finding)`` for each unit of a files result's ``units`` (or any ``{unit: state}``) not loaded,
    not running or not enabled."""
    found = []
    for name, state in _dict(units).items():
        state = _dict(state)
        if state.get("load_state") == "not-found":
            found.append((name, _finding("unit", name, "missing")))
            continue
        problems = []
        if not state.get("active"):
            problems.append("not running" + (" (%s)" % state["active_state"] if state.get("active_state") else ""))
        if not state.get("enabled"):
            problems.append("not enabled" + (" (%s)" % state["unit_file_state"]
                                             if state.get("unit_file_state") else ""))
        if problems:
            found.append((name, _finding("unit", name, ", ".join(problems))))
    return found


# ---- The services (the platform plan's check-mode results) ------------------------------

def _unit_owners(the_plan):
    """unit name -> the services it belongs to (a service's unit or its instances', the balancer's for
    the multi-instance services, the engines of the docker and supervisor runtimes)."""
    s = _dict(the_plan.get("settings"))
    owners = {}
    entries = _list(the_plan.get("entries"))
    by_runtime = _dict(the_plan.get("by_runtime"))
    for svc in entries:
        owners.setdefault(svc.get("unit"), []).append(svc["name"])
        for inst in _list(svc.get("instance_list")):
            if isinstance(inst, dict) and inst.get("unit"):
                owners.setdefault(inst["unit"], []).append(svc["name"])
    if s.get("balancer_unit"):
        owners.setdefault(s["balancer_unit"], []).extend(_list(the_plan.get("multi")))
    for runtime, unit in (("docker", s.get("docker_unit")), ("supervisor", s.get("supervisor_unit"))):
        if unit:
            owners.setdefault(unit, []).extend(_list(by_runtime.get(runtime)))
    return owners


def service_findings(the_plan, keys=None, batch=None, files=None, containers=None, venvs=None, supervisor=None,
                     manual=None, slots=None):
    """``{service: [finding, ...]}`` of one host, from the platform plan's check-mode results.

    ``the_plan`` is the service role's plan of the host (plugins/filter/service_plan.py), ``keys`` the
    table of the files batch's keys (the plan's ``keys`` completed with the leftovers' keys), ``batch``
    the files batch itself. A path without a service (a directory several services share) is reported
    under ``service``.
    """
    the_plan = _dict(the_plan)
    keys = _dict(keys) or _dict(the_plan.get("keys"))
    names = [svc["name"] for svc in _list(the_plan.get("entries"))]
    found = {}

    for entry, finding in file_findings(files, batch):
        info = _dict(keys.get(entry.get("key")))
        kind = info.get("kind")
        if kind == "gate_failed":
            finding = dict(finding, kind="health gate", state="failed at the last run (marker present)")
        elif kind in ("unit", "container", "program", "manual", "single_unit"):
            finding = dict(finding, state=finding["state"] + " (left by another runtime or layout)")
        owners = ([info["service"]] if info.get("service") else _list(info.get("services"))) or ["service"]
        for owner in owners:
            _add(found, owner, finding)

    owners = _unit_owners(the_plan)
    for unit, finding in unit_findings(_dict(files).get("units")):
        for owner in owners.get(unit) or ["service"]:
            _add(found, owner, finding)

    container_of = dict(zip(_list(the_plan.get("container_names")),
                            _list(_dict(the_plan.get("by_runtime")).get("docker"))))
    for name, state in _dict(_dict(containers).get("containers")).items():
        state = _dict(state)
        if not state.get("actions"):
            continue
        before = _dict(state.get("before"))
        status = before.get("status") or ("absent" if before.get("exists") is False else None)
        _add(found, container_of.get(name, "service"),
             _finding("container", name, "would be " + ", ".join(state["actions"]), reason=state.get("reason"),
                      status=status))

    prefix = _dict(the_plan.get("settings")).get("supervisor_prefix", "alicia-")
    program_of = dict((prefix + n, n) for n in _list(_dict(the_plan.get("by_runtime")).get("supervisor")))
    programs = _dict(_dict(supervisor).get("programs"))
    for program, actions in _dict(_dict(supervisor).get("actions")).items():
        if actions:
            _add(found, program_of.get(program, "service"),
                 _finding("program", program, "would be " + ", ".join(actions),
                          status=_dict(programs.get(program)).get("state")))

    answers = _dict(_dict(manual).get("services"))
    for name, actions in _dict(_dict(manual).get("actions")).items():
        if actions:
            answer = _dict(answers.get(name))
            status = None
            if answer:
                status = ("running" if answer.get("running") else "stopped") + (
                    ", healthy" if answer.get("healthy") else (", unhealthy" if answer.get("running") else ""))
            _add(found, name if name in names else "service",
                 _finding("manual instance", name, "would be " + ", ".join(actions), status=status))

    users = {}
    for name, path in _dict(the_plan.get("venv_of")).items():
        users.setdefault(path, []).append(name)
    for venv in _list(_dict(venvs).get("venvs")):
        venv = _dict(venv)
        if venv.get("changed"):
            for owner in users.get(venv.get("path")) or ["service"]:
                _add(found, owner, _finding("virtualenv", venv.get("path"),
                                            "would be " + str(venv.get("action") or "rebuilt"),
                                            reason=venv.get("reason")))

    # Blue-green: the live slot not on the declared release (it would switch), or a slot's unit to fix.
    for result in _list(_dict(slots).get("services")):
        result = _dict(result)
        if result.get("action") not in (None, "keep"):
            _add(found, result.get("service") or "service",
                 _finding("slot", result.get("to_slot"), "would switch in with %s" % result.get("to_release"),
                          status=("slot %s live on %s" % (result.get("from_slot"), result.get("from_release"))
                                  if result.get("from_slot") else "no live slot")))
        for fix in _list(result.get("fixed")):
            verb, unit = (str(fix).split(" ", 1) + [""])[:2]
            _add(found, result.get("service") or "service", _finding("unit", unit, "would be %s" % (
                {"start": "started", "stop": "stopped"}.get(verb, verb + "d"))))

    order = names + sorted(n for n in found if n not in names)
    return dict((n, found[n]) for n in order if n in found)


# ---- The baseline and the broker --------------------------------------------------------

def component_findings(spec):
    """The findings of one baseline component or the broker, from what its role read in check mode.

    ``spec`` may hold: ``files`` (a files module result: its changed paths and its ``units``), ``batch``
    (the entries given to it), ``units`` (``{unit: {active, enabled}}``), ``missing`` (package names),
    ``changes`` (what differs, in words: a system account), ``sysctl`` (``{key: {drift, live}}``),
    ``checks`` (``{what: how it differs}``, a false or empty value when it does not).
    """
    spec = _dict(spec)
    found = [finding for _entry, finding in file_findings(spec.get("files"), spec.get("batch"))]
    units = dict(_dict(_dict(spec.get("files")).get("units")))
    units.update(_dict(spec.get("units")))
    found += [finding for _unit, finding in unit_findings(units)]
    found += [_finding("package", name, "missing") for name in _list(spec.get("missing"))]
    found += [_finding("account", None, str(change)) for change in _list(spec.get("changes"))]
    for key, state in sorted(_dict(spec.get("sysctl")).items()):
        if _dict(state).get("drift"):
            found.append(_finding("sysctl", key, "differs", live=_dict(state).get("live")))
    for what, state in _dict(spec.get("checks")).items():
        if state:
            found.append(_finding("check", what, state if isinstance(state, str) else "differs"))
    unique = []
    for finding in found:
        if finding not in unique:
            unique.append(finding)
    return unique


def host_findings(the_plan=None, keys=None, batch=None, files=None, containers=None, venvs=None, supervisor=None,
                  manual=None, components=None, broker=None, slots=None):
    """One host's drift: ``{checked: [{name, scope}], drifted: {name: [finding]}}``.

    ``components`` maps each baseline component's name to its spec (``component_findings``);
    ``broker`` is ``{name, spec}`` on a broker host. The services are the plan's entries.
    """
    checked, drifted = [], {}
    for name, spec in _dict(components).items():
        checked.append({"name": name, "scope": "baseline"})
        found = component_findings(spec)
        if found:
            drifted[name] = found
    broker = _dict(broker)
    if broker.get("name"):
        checked.append({"name": broker["name"], "scope": "broker"})
        found = component_findings(broker.get("spec"))
        if found:
            drifted[broker["name"]] = found
    if the_plan:
        for svc in _list(_dict(the_plan).get("entries")):
            checked.append({"name": svc["name"], "scope": "service", "phase": svc.get("phase"),
                            "runtime": svc.get("runtime")})
        for name, found in service_findings(the_plan, keys=keys, batch=batch, files=files, containers=containers,
                                            venvs=venvs, supervisor=supervisor, manual=manual, slots=slots).items():
            if name not in [c["name"] for c in checked]:
                checked.append({"name": name, "scope": "service"})
            drifted[name] = found
    return {"checked": checked, "drifted": drifted}


# ---- The report ---------------------------------------------------------------------------

def report(hosts, results, generated=None):
    """Every host's drift as one document.

    ``hosts``: the hosts of the run, in order; ``results``: ``{host: host_findings(...)}`` for the
    hosts that were checked (a host without one, unreachable or failed, is reported ``not checked``
    and counts as drift: nothing says it matches).
    """
    if not isinstance(hosts, list):
        raise DriftError("drift: the hosts must be a list, got %s" % type(hosts).__name__)
    results = _dict(results)
    doc_hosts, drifted = {}, []
    checked_count = 0
    for host in hosts:
        result = results.get(host)
        if not isinstance(result, dict) or "checked" not in result:
            doc_hosts[host] = {"checked": False, "drift": True, "services": {}, "drifted": {},
                               "error": "not checked (unreachable, or a check failed: see the run's output)"}
            drifted.append({"host": host, "service": None, "scope": None, "findings": 0})
            continue
        checked = _list(result.get("checked"))
        found = _dict(result.get("drifted"))
        checked_count += len(checked)
        scopes = dict((c.get("name"), c.get("scope")) for c in checked)
        doc_hosts[host] = {"checked": True, "drift": bool(found),
                           "services": dict((c["name"], {"scope": c.get("scope"), "drift": c["name"] in found})
                                            for c in checked),
                           "drifted": found}
        for name, findings in found.items():
            drifted.append({"host": host, "service": name, "scope": scopes.get(name, "service"),
                            "findings": len(findings)})
    doc = {
        "drift": bool(drifted),
        "hosts": doc_hosts,
        "drifted": drifted,
        "totals": {"hosts": len(hosts), "hosts_drifted": len(set(d["host"] for d in drifted)),
                   "checked": checked_count, "drifted": len([d for d in drifted if d["service"]]),
                   "not_checked": len([d for d in drifted if not d["service"]])},
    }
    if generated:
        doc["generated"] = generated
    return doc


def describe(finding):
    """One finding in words: ``unit alicia-tts_service.service: not running (inactive)``."""
    finding = _dict(finding)
    text = finding.get("kind", "?")
    if finding.get("target"):
        text += " " + str(finding["target"])
    text += ": " + str(finding.get("state", "differs"))
    extra = [str(finding[k]) for k in ("reason", "status", "live") if finding.get(k)]
    if extra:
        text += " (%s)" % "; ".join(extra)
    return text


def summary(doc):
    """The console's lines: one per host and drifted service (with what differs), then the totals."""
    doc = _dict(doc)
    lines = []
    for host, state in _dict(doc.get("hosts")).items():
        if not state.get("checked"):
            lines.append("%s: %s" % (host, state.get("error", "not checked")))
            continue
        for name, findings in _dict(state.get("drifted")).items():
            lines.append("%s %s: %s" % (host, name, "; ".join(describe(f) for f in findings)))
    totals = _dict(doc.get("totals"))
    lines.append("%s host(s), %s checked, %s drifted%s" % (
        totals.get("hosts", 0), totals.get("checked", 0), totals.get("drifted", 0),
        (", %s host(s) not checked" % totals["not_checked"]) if totals.get("not_checked") else ""))
    return lines


def failure(doc):
    """The failure message naming each host and service that drifted ('' without drift)."""
    doc = _dict(doc)
    if not doc.get("drift"):
        return ""
    drifted = [item for item in _list(doc.get("drifted")) if item.get("service")]
    not_checked = [item for item in _list(doc.get("drifted")) if not item.get("service")]
    lines = ["drift: %d service(s) on %d host(s) differ from the declared state%s:" % (
        len(drifted), len(set(item["host"] for item in drifted)),
        (", %d host(s) not checked" % len(not_checked)) if not_checked else "")]
    for item in _list(doc.get("drifted")):
        if item.get("service"):
            lines.append("- %s on %s (%s): %s finding(s)" % (item["service"], item["host"], item.get("scope"),
                                                             item.get("findings")))
        else:
            lines.append("- %s: not checked" % item["host"])
    return "\n".join(lines)


def junit(doc, name="alicia drift"):
    """The document as JUnit XML: a test suite per host, a test case per checked service (and
    component), failed when it drifted (the findings in the failure's text); a host not checked is
    one errored test case."""
    doc = _dict(doc)
    suites = []
    total = failures = errors = 0
    for host, state in _dict(doc.get("hosts")).items():
        cases = []
        if not state.get("checked"):
            errors += 1
            total += 1
            cases.append('    <testcase classname=%s name="host">\n      <error message=%s/>\n    </testcase>'
                         % (quoteattr("drift.%s" % host), quoteattr(state.get("error", "not checked"))))
            suites.append('  <testsuite name=%s tests="1" failures="0" errors="1">\n%s\n  </testsuite>'
                          % (quoteattr(host), "\n".join(cases)))
            continue
        drifted = _dict(state.get("drifted"))
        host_failures = 0
        for svc, info in _dict(state.get("services")).items():
            total += 1
            classname = quoteattr("drift.%s.%s" % (host, _dict(info).get("scope") or "service"))
            if svc in drifted:
                host_failures += 1
                text = "\n".join(describe(f) for f in drifted[svc])
                cases.append('    <testcase classname=%s name=%s>\n      <failure message=%s type="drift">%s'
                             '</failure>\n    </testcase>'
                             % (classname, quoteattr(svc), quoteattr("%s on %s differs from the declared state"
                                                                     % (svc, host)), escape(text)))
            else:
                cases.append('    <testcase classname=%s name=%s/>' % (classname, quoteattr(svc)))
        failures += host_failures
        suites.append('  <testsuite name=%s tests="%d" failures="%d" errors="0">\n%s\n  </testsuite>'
                      % (quoteattr(host), len(cases), host_failures, "\n".join(cases)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name=%s tests="%d" failures="%d" errors="%d">\n'
            '%s\n</testsuites>\n' % (quoteattr(name), total, failures, errors, "\n".join(suites)))
