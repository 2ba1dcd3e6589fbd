#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_sweep
short_description: Probe many HTTP health endpoints once, concurrently, and report each one
version_added: 0.1.0
description:
  - Probes every endpoint in O(endpoints) once, concurrently (up to O(max_workers)
    at a time), without waiting for any of them, and reports each one's status
    (C(healthy), C(unhealthy) or C(unreachable)), HTTP status and latency, and
    the C(version), C(broker_connected) and C(uptime_s) fields of its JSON body.
  - An endpoint is healthy on the same terms as with P(alicia.platform.health_gate#module),
    one of its O(endpoints[].expect_status) codes and, unless O(endpoints[].json_field)
    is empty, that JSON field with the value O(endpoints[].json_value).
    C(unreachable) means no HTTP response came (connection refused, timeout, reset);
    C(unhealthy) means a response that is not healthy.
  - Never fails because an endpoint is not healthy (the caller decides what
    that means); it fails only on an unusable endpoint definition.
  - Reads only, so it runs in check mode as it does otherwise.
  - Standard library only. C(playbooks/health.yml) runs it on every host with
    the endpoints of P(alicia.platform.health_sweep_endpoints#filter), probing
    C(127.0.0.1) from the host itself.
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
          - Service name reported for this endpoint; defaults to the URL.
        type: str
      instance:
        description:
          - Instance name reported for this endpoint; defaults to O(endpoints[].service).
        type: str
      host:
        description:
          - Inventory host reported for this endpoint; defaults to the URL's host.
        type: str
      port:
        description:
          - Port reported for this endpoint; defaults to the URL's port.
        type: int
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
          - Seconds the probe of this endpoint may take (connect and read).
        type: float
        default: 5
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
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads; in check mode it probes exactly as it does otherwise.
extends_documentation_fragment:
  - alicia.platform.attributes
notes:
  - Proxies from the environment are not used.
seealso:
  - plugin: alicia.platform.health_sweep_endpoints
    plugin_type: filter
  - module: alicia.platform.health_gate
"""

EXAMPLES = r"""
- name: Probe every service instance this host runs, once, from the host itself
  alicia.platform.health_sweep:
    endpoints: "{{ catalogue_resolved | alicia.platform.health_sweep_endpoints(group_names, inventory_hostname) }}"
  register: sweep

- name: One endpoint, status code only
  alicia.platform.health_sweep:
    endpoints:
      - service: stt_service
        url: http://127.0.0.1:8001/health
        json_field: ""
        timeout: 2
"""

RETURN = r"""
healthy:
  description: Whether every endpoint was healthy.
  returned: always
  type: bool
  sample: false
elapsed:
  description: Seconds the sweep took.
  returned: always
  type: float
  sample: 0.0312
unhealthy:
  description: C(service/instance) of every endpoint that was not healthy.
  returned: always
  type: list
  elements: str
  sample: [tts_service/tts_service]
results:
  description: One result per endpoint, in the order of O(endpoints).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The endpoint's service name.
      type: str
      sample: tts_service
    instance:
      description: The endpoint's instance name.
      type: str
      sample: tts_service
    host:
      description: The endpoint's host.
      type: str
      sample: alicia-lab-1
    port:
      description: The endpoint's port.
      type: int
      sample: 8003
    url:
      description: The URL probed.
      type: str
      sample: http://127.0.0.1:8003/health
    status:
      description: C(healthy), C(unhealthy) (an answer that is not healthy) or C(unreachable) (no HTTP answer).
      type: str
      sample: unreachable
    http_status:
      description: HTTP status of the answer, null when none came.
      type: int
      sample: 200
    latency_ms:
      description: Milliseconds the probe took.
      type: float
      sample: 2.4
    version:
      description: The C(version) field of the JSON body, null when absent.
      type: str
      sample: 1.0.0
    broker_connected:
      description: The C(broker_connected) field of the JSON body (a boolean), null when absent.
      type: bool
      sample: true
    uptime_s:
      description: The C(uptime_s) field of the JSON body (a number), null when absent.
      type: float
      sample: 812.113
    error:
      description: Why the endpoint is not healthy, null when it is.
      type: str
      sample: connection refused
msg:
  description: Summary, naming every endpoint that is not healthy.
  returned: always
  type: str
  sample: "health sweep: all 22 endpoints healthy in 0.03 s"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils.health import EndpointError
from ansible_collections.alicia.platform.plugins.module_utils._sweep_probe import sweep

ENDPOINT_OPTIONS = dict(
    url=dict(type="str", required=True),
    service=dict(type="str"),
    instance=dict(type="str"),
    host=dict(type="str"),
    port=dict(type="int"),
    expect_status=dict(type="list", elements="int", default=[200]),
    json_field=dict(type="str", default="status"),
    json_value=dict(type="raw", default="healthy"),
    timeout=dict(type="float", default=5),
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="dict", required=True, options=ENDPOINT_OPTIONS),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            max_workers=dict(type="int", default=64),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        summary = sweep(params["endpoints"], max_workers=params["max_workers"],
                        validate_certs=params["validate_certs"], ca_path=params["ca_path"])
    except EndpointError as exc:
        module.fail_json(msg="health_sweep: %s" % exc)
    module.exit_json(changed=False, **summary)


def main():
    run_module()


if __name__ == "__main__":
    main()
