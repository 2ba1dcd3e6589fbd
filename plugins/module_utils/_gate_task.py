# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alicia.platform.health_gate task: its options and one run of it.

Shared by the module (on the target) and its action plugin, which runs the
same ``execute`` in the controller's process when the task runs there
(``delegate_to: localhost``, connection local, no become): the gate then
costs no module start. Library only; nothing prints or exits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.alicia.platform.plugins.module_utils.health import EndpointError, gate
from ansible_collections.alicia.platform.plugins.module_utils._history import HistoryError, record_gate, update

ENDPOINT_OPTIONS = dict(
    url=dict(type="str", required=True),
    service=dict(type="str"),
    host=dict(type="str"),
    expect_status=dict(type="list", elements="int", default=[200]),
    json_field=dict(type="str", default="status"),
    json_value=dict(type="raw", default="healthy"),
    timeout=dict(type="float", default=5),
    unit=dict(type="str"),
    container=dict(type="str"),
    program=dict(type="str"),
)

RECORD_OPTIONS = dict(
    service=dict(type="str", required=True),
    version=dict(type="str"),
    spec=dict(type="dict", required=True),
    release=dict(type="path"),
    instances=dict(type="list", elements="str", default=[]),
)
HISTORY_OPTIONS = dict(
    path=dict(type="path", default="/var/lib/alicia/deployments.json"),
    strategy=dict(type="str", default="direct"),
    id=dict(type="str"),
    host=dict(type="str"),
    records=dict(type="list", elements="dict", required=True, options=RECORD_OPTIONS),
)


def argument_spec():
    """The module's argument spec (a new copy each call)."""
    return dict(
        endpoints=dict(type="list", elements="dict", required=True, options=dict(ENDPOINT_OPTIONS)),
        timeout=dict(type="float", default=60),
        interval=dict(type="float", default=1),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        max_workers=dict(type="int", default=64),
        max_restarts=dict(type="int", default=2),
        healthy_reads=dict(type="int", default=1),
        healthy_interval=dict(type="float", default=0.25),
        history=dict(type="dict", options=dict(HISTORY_OPTIONS)),
        failed_services=dict(type="dict", default={}),
    )


def parameter_problem(params):
    """The message of a bad combination of validated parameters, else None."""
    if params["timeout"] <= 0 or params["interval"] <= 0 or params["max_workers"] < 1 or params["max_restarts"] < 1:
        return "timeout and interval must be positive, max_workers and max_restarts at least 1"
    if params["healthy_reads"] < 1 or params["healthy_interval"] < 0:
        return "healthy_reads must be at least 1 and healthy_interval 0 or more"
    return None


def _unhealthy_services(summary, records, failed=None):
    """The services of ``records`` with an unhealthy endpoint or judged ``failed``, and the first error of each."""
    reasons = dict(failed or {})
    for result in summary["results"]:
        if result["healthy"]:
            continue
        for record_ in records:
            if result["service"] == record_["service"] or result["service"] in (record_["instances"] or []):
                reasons.setdefault(record_["service"], result["error"] or "unhealthy")
    return reasons


def not_judged(endpoints, failed, records=None):
    """The endpoints still to probe: not those of a service already judged
    ``failed`` (its own name, its instances' from the history ``records``)."""
    if not failed:
        return endpoints
    names = set(failed)
    for record_ in records or []:
        if record_["service"] in failed:
            names.update(record_.get("instances") or [])
    return [endpoint for endpoint in endpoints if endpoint.get("service") not in names]


def record(history, summary, host, started, failed=None):
    """Write the gate's outcome in the history; returns (changed, rollback targets)."""
    reasons = _unhealthy_services(summary, history["records"], failed)
    ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def change(doc):
        return record_gate(doc, history["records"], list(reasons), reasons, host, history["strategy"],
                           history["id"] or started, started, ended)

    return update(history["path"], change)


def execute(params, check_mode, run, hostname):
    """One run of the task over validated ``params``.

    ``run(argv)`` -> (rc, stdout, stderr) reads process states on the host
    it runs on; ``hostname()`` names that host in the history. Returns
    ``(summary, warning)``: ``summary["failed"]`` is set when the task
    fails (its ``msg`` says why); ``warning`` is a text or None.
    """
    problem = parameter_problem(params)
    if problem:
        return {"failed": True, "msg": problem}, None
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    failed = dict((str(name), str(reason)) for name, reason in (params["failed_services"] or {}).items())
    try:
        summary = gate(
            not_judged(params["endpoints"], failed, (params["history"] or {}).get("records")),
            timeout=params["timeout"],
            interval=params["interval"],
            single_round=check_mode,
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            max_workers=params["max_workers"],
            max_restarts=params["max_restarts"],
            run=run,
            healthy_reads=params["healthy_reads"],
            healthy_interval=params["healthy_interval"],
        )
    except EndpointError as exc:
        return {"failed": True, "msg": "health_gate: %s" % exc}, None
    if failed:
        summary["healthy"] = False
        summary["unhealthy"] = summary["unhealthy"] + [name for name in sorted(failed)
                                                       if name not in summary["unhealthy"]]
        probed_bad = [r for r in summary["results"] if not r["healthy"]]
        summary["msg"] = "\n".join(["%s: %s" % (name, reason) for name, reason in sorted(failed.items())]
                                   + ([summary["msg"]] if probed_bad else []))
    summary["failed_services"] = sorted(failed)
    summary["changed"] = False
    summary["rollback"] = {}
    summary["history_changed"] = False
    if params["history"] and not check_mode:
        try:
            changed, targets = record(params["history"], summary, params["history"]["host"] or hostname(), started,
                                      failed)
        except (HistoryError, OSError, IOError) as exc:
            summary["msg"] = "health_gate: deployment history %s: %s" % (params["history"]["path"], exc)
            summary["failed"] = True
            return summary, None
        summary["changed"] = summary["history_changed"] = bool(changed)
        summary["rollback"] = targets
    if not summary["healthy"]:
        if check_mode:
            return summary, "check mode, one probe round: " + summary["msg"]
        summary["failed"] = True
    return summary, None
