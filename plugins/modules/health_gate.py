#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_gate
short_description: Wait until many HTTP health endpoints are healthy, polling them concurrently
version_added: 0.1.0
description:
  - Polls the endpoints in O(endpoints) concurrently, one thread per endpoint
    (up to O(max_workers) at a time), until all of them are healthy or
    O(timeout) seconds have passed.
  - An endpoint is healthy when it answers with one of its O(endpoints[].expect_status)
    codes and, unless O(endpoints[].json_field) is empty, its JSON body has
    that field with the value O(endpoints[].json_value). By default that is
    HTTP 200 and a JSON body whose C(status) field is C(healthy).
  - On failure the module fails with one message listing every unhealthy
    endpoint and its last error (connection refused, timeout, HTTP status
    with a body excerpt, response not JSON, wrong JSON value).
  - Standard library only; runs on the target (probing from the host itself)
    or delegated to the controller (probing over the network).
  - O(endpoints) takes the output of the P(alicia.platform.catalogue_health_endpoints#filter)
    filter as it is.
  - While an endpoint that names its O(endpoints[].unit), O(endpoints[].container) or
    O(endpoints[].program) is not healthy, the module also reads the state of that
    process on the host it runs on, at most once a second and with one command per kind
    for all endpoints (C(systemctl show), C(docker inspect), C(supervisorctl status)).
    The endpoint fails at once, without waiting for O(timeout), when its process was
    restarted (or is scheduled to be) O(max_restarts) times since the gate started, or is in a state it does
    not leave by itself (a C(failed) unit, an C(exited) container, a C(FATAL) program);
    its error names the last exit status or signal (C(status=1/FAILURE), C(signal=KILL)),
    an out-of-memory kill with the memory limit (C(MemoryMax), the container's limit;
    on cgroup v1 hosts systemd cannot tell, and a C(signal=KILL) under a C(MemoryMax) is
    named as a likely one) and the restart count.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  endpoints:
    description:
      - The endpoints to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - The C(http://) or C(https://) URL to GET.
        type: str
        required: true
      service:
        description:
          - Name reported for this endpoint; defaults to the URL.
        type: str
      host:
        description:
          - Inventory host reported for this endpoint; defaults to the URL's host.
        type: str
      expect_status:
        description:
          - HTTP status codes that count as healthy.
        type: list
        elements: int
        default: [200]
      json_field:
        description:
          - Field of the JSON body to check; a dotted path such as C(checks.db) reaches into objects.
          - An empty string or null disables the JSON check (status code only).
        type: str
        default: status
      json_value:
        description:
          - Value O(endpoints[].json_field) must have; compared as text, so C(true) matches a JSON C(true).
          - Null accepts any value as long as the field is there.
        type: raw
        default: healthy
      timeout:
        description:
          - Seconds one probe of this endpoint may take (connect and read).
        type: float
        default: 5
      unit:
        description:
          - The systemd unit that runs this endpoint's service, read with C(systemctl show)
            while the endpoint is not healthy.
          - Only meaningful when the module runs on the host of the unit (not delegated).
        type: str
      container:
        description:
          - The docker container that runs this endpoint's service, read with C(docker inspect)
            while the endpoint is not healthy.
        type: str
      program:
        description:
          - The supervisord program that runs this endpoint's service, read with
            C(supervisorctl status) while the endpoint is not healthy. supervisor counts no
            restarts, so the gate counts the reads that see the program newly C(BACKOFF) or
            C(EXITED), and also fails a program seen in C(BACKOFF) at more than O(max_restarts)
            reads (its retries wait 1, 2, 3... s, so that many reads span two exits or more);
            C(FATAL) fails at once.
        type: str
  max_restarts:
    description:
      - Restarts since the gate started (the growth of systemd's C(NRestarts) or docker's
        C(RestartCount)) after which an endpoint that is still not healthy fails at once.
        A restart systemd has scheduled (the unit waits C(RestartSec) in C(auto-restart))
        counts, as docker counts it.
      - With C(RestartSec=5) (the service role's default), 2 fails a service that exits at
        start about 6 s after it was started (its second exit), where O(timeout) would wait
        in vain.
    type: int
    default: 2
  timeout:
    description:
      - Overall deadline in seconds; endpoints still unhealthy then make the module fail.
    type: float
    default: 60
  interval:
    description:
      - Seconds between two probes of an unhealthy endpoint.
    type: float
    default: 1
  healthy_reads:
    description:
      - Healthy probes in a row after which an endpoint counts as healthy (an unhealthy
        probe starts the count again). A release that answers once and then crashes does
        not pass.
    type: int
    default: 1
  healthy_interval:
    description:
      - Seconds between two probes of an endpoint that answered healthy but not yet
        O(healthy_reads) times in a row.
    type: float
    default: 0.25
  history:
    description:
      - Record the gate's outcome in the host's deployment history (one JSON document,
        written atomically, a temporary file renamed over the old one, under a lock).
      - A healthy service whose release is new becomes the service's known-good release;
        an unhealthy one whose release is new is marked bad (never a rollback target) and
        its last known-good release, when there is one and its release directory still
        exists, is returned in RV(rollback) for the caller to restore.
      - Not written in check mode.
    type: dict
    suboptions:
      path:
        description: The history file (mode 0600).
        type: path
        default: /var/lib/alicia/deployments.json
      strategy:
        description:
          - How the releases were deployed (C(direct), C(rolling), ...), or C(rollback) when
            the gate checks a rollback (a failed one returns no target).
        type: str
        default: direct
      id:
        description: The deployment's identifier (the same for every host of a run).
        type: str
      host:
        description: The host's name in the records (the inventory name); default the host name.
        type: str
      records:
        description: One per service the gate covers.
        type: list
        elements: dict
        required: true
        suboptions:
          service:
            description: The catalogue service; the endpoints whose O(endpoints[].service) is it or one of its instances.
            type: str
            required: true
          version:
            description: The release's version.
            type: str
          spec:
            description: The catalogue entry deployed (no secrets), stored to redeploy it on a rollback.
            type: dict
            required: true
          release:
            description: The release directory it runs from (a rollback target needs it to exist).
            type: path
          instances:
            description: Endpoint names that belong to this service (its instances, its balanced port).
            type: list
            elements: str
            default: []
  failed_services:
    description:
      - Services this run already judged failed before the gate (a canary's verdict at the
        balancer, M(alicia.platform.canary)), each with the reason.
      - The gate fails for them whatever their endpoints answer (which are not probed - their
        own name, and their instances' from O(history.records)), and O(history) records them
        as failed with that reason (their new release marked bad, RV(rollback) filled), as
        for an unhealthy service.
    type: dict
    default: {}
  validate_certs:
    description:
      - Verify TLS certificates of C(https://) endpoints.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle file used to verify C(https://) endpoints.
    type: path
  max_workers:
    description:
      - Most endpoints probed at the same time.
    type: int
    default: 64
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - Delegated to the controller (connection C(local), no C(become)), the gate runs in the
        controller's process with the module's own code, options and result, without a module
        start; on any other host the module runs as usual, in one execution.
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode the module probes every endpoint once, does not wait, and
        never fails; unhealthy endpoints are reported in RV(results) and as a
        warning, since a check run does not start the services it would gate.
extends_documentation_fragment:
  - alicia.platform.attributes
notes:
  - Proxies from the environment are not used.
seealso:
  - plugin: alicia.platform.catalogue_health_endpoints
    plugin_type: filter
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
- name: Gate the voice phase on every host that runs it (probed from the controller)
  alicia.platform.health_gate:
    endpoints: "{{ catalogue_resolved | alicia.platform.catalogue_health_endpoints(hostvars, groups, services=['voice']) }}"
    timeout: 120
    interval: 2
  delegate_to: localhost
  run_once: true

- name: Gate one service from the host itself, status code only
  alicia.platform.health_gate:
    endpoints:
      - service: stt_service
        url: http://127.0.0.1:8001/health
        json_field: ""
    timeout: 30
"""

RETURN = r"""
healthy:
  description: Whether every endpoint was healthy.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds the gate took.
  returned: always
  type: float
  sample: 0.0231
rollback:
  description:
    - With O(history), when the gate failed, the last known-good release of each unhealthy
      service whose new release failed (C(version), C(digest), C(spec), C(release)); empty
      when there is none (a first deployment, or no earlier release left on the host).
  returned: always
  type: dict
  sample: {tts_service: {version: 1.4.0, digest: 0b1c2d3e4f506172, release: /opt/alicia/tts_service/releases/1.4.0}}
failed_services:
  description: The services of O(failed_services), which failed the gate whatever their endpoints answered.
  returned: always
  type: list
  elements: str
  sample: [tts_service]
history_changed:
  description: Whether the deployment history was written.
  returned: always
  type: bool
unhealthy:
  description: Names of the endpoints that were not healthy at the end, and the services of O(failed_services).
  returned: always
  type: list
  elements: str
  sample: [stt_service]
results:
  description: One result per endpoint, in the order of O(endpoints).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The endpoint's service name.
      type: str
      sample: stt_service
    host:
      description: The endpoint's host.
      type: str
      sample: lab1
    url:
      description: The URL probed.
      type: str
      sample: http://10.10.0.11:8001/health
    healthy:
      description: Whether the last probe was healthy.
      type: bool
      sample: true
    status:
      description: HTTP status of the last probe, null when no response came.
      type: int
      sample: 200
    latency:
      description: Seconds the last probe took.
      type: float
      sample: 0.0021
    attempts:
      description: Number of probes made.
      type: int
      sample: 3
    time_to_healthy:
      description: Seconds from the start of the gate until the endpoint was healthy, null when it never was.
      type: float
      sample: 2.0113
    error:
      description:
        - Why the last probe was unhealthy, null when healthy.
        - When the endpoint's process crash-loops, that verdict first, then C(; last probe:) and the probe's error.
      type: str
      sample: "HTTP 503 (expected 200): {\"status\": \"starting\"}"
    process:
      description:
        - What the state reads saw of the endpoint's unit, container or program; null when it
          names none or it was healthy before any read.
      type: dict
      contains:
        kind:
          description: C(unit), C(container) or C(program).
          type: str
        name:
          description: The unit, container or program name.
          type: str
        state:
          description: Its state at the last read (systemd SubState, docker status, supervisor state).
          type: str
        restarts:
          description: Restarts since the gate started.
          type: int
        exits:
          description: Supervisor only, reads that saw the program newly exiting.
          type: int
        last_exit:
          description: The last exit seen, C(status=1/FAILURE), C(signal=KILL), null when none.
          type: str
        oom:
          description: Whether an out-of-memory kill was seen.
          type: bool
        memory_limit:
          description: The memory limit (C(64M)), null when none or unknown.
          type: str
        reads:
          description: State reads that included it.
          type: int
        crash_loop:
          description: The crash-loop verdict, null when none.
          type: str
      sample:
        kind: unit
        name: alicia-stt_service.service
        state: auto-restart
        restarts: 2
        exits: 0
        last_exit: status=1/FAILURE
        oom: false
        memory_limit: 512M
        reads: 11
        crash_loop: "unit alicia-stt_service.service keeps exiting, last exit status=1/FAILURE, 2 restarts since the gate started (the last one scheduled)"
state_reads:
  description: Reads of the endpoints' units, containers and programs (one command per kind each).
  returned: always
  type: int
  sample: 11
msg:
  description: Summary, one line per unhealthy endpoint with its last error.
  returned: always
  type: str
  sample: "health gate: all 23 endpoints healthy in 0.02 s"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.alicia.platform.plugins.module_utils._gate_task import argument_spec, execute
from ansible_collections.alicia.platform.plugins.module_utils._process_state import module_run


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    summary, warning = execute(module.params, module.check_mode, module_run(module), _hostname)
    if warning:
        module.warn(warning)
    if summary.pop("failed", False):
        module.fail_json(**summary)
    module.exit_json(**summary)


def _hostname():
    import socket

    return socket.gethostname()


def main():
    run_module()


if __name__ == "__main__":
    main()
