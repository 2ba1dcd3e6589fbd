#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mqtt_check
short_description: Check an MQTT broker with a login and a publish/subscribe round trip
version_added: 0.1.0
description:
  - Connects to an MQTT broker with the given credentials (optionally over
    TLS), subscribes to a test topic, publishes a unique message on it and
    waits until the message comes back; reports the latencies.
  - Fails with a distinct message for each cause, also returned as RV(failure)
    (connection_refused, bad_credentials, not_authorised, timeout, tls,
    connection_error, protocol, unavailable, missing_library).
  - C(not_authorised) means the login worked but the broker's ACL refused the
    subscription or dropped the message (MQTT 3.1.1 brokers drop a denied
    publish silently, so a message that never arrives while the broker
    acknowledged it is reported as not authorised).
  - Works with paho-mqtt 1.6 (Debian 12 C(python3-paho-mqtt)) and paho-mqtt 2.x.
author:
  - Alicia platform engineers (@alicia-platform)
requirements:
  - paho-mqtt >= 1.6 (Debian package C(python3-paho-mqtt))
options:
  client_id:
    description:
      - MQTT client id; a random C(alicia-check-...) id when unset.
    type: str
  topic:
    description:
      - Topic of the round trip. The default, C(alicia/<username>/healthcheck),
        is in the account's own tree C(alicia/<username>/#), which the
        catalogue's ACLs grant every service.
    type: str
  qos:
    description:
      - QoS of the subscription and of the test message.
    type: int
    choices: [0, 1, 2]
    default: 1
  timeout:
    description:
      - Seconds the whole check may take; also the connect timeout.
    type: float
    default: 10
  keepalive:
    description:
      - MQTT keepalive in seconds.
    type: int
    default: 30
  client_cert:
    description:
      - Client certificate file, for brokers that require one.
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The check changes nothing, so it runs in check mode too; there, a
        failed check is reported as a warning and in RV(failure) instead of
        failing, since a check run does not start the broker it would check.
extends_documentation_fragment:
  - alicia.platform.attributes
  - alicia.platform.mqtt_connection
"""

EXAMPLES = r"""
- name: Check the broker with a service's own account
  alicia.platform.mqtt_check:
    host: "{{ hostvars[groups['alicia_broker'][0]]['ansible_host'] | default(groups['alicia_broker'][0]) }}"
    username: stt_service
    password: "{{ catalogue_secrets['stt_service']['MQTT_PASSWORD'] }}"
  delegate_to: localhost
  no_log: true

- name: Check over TLS with the platform CA
  alicia.platform.mqtt_check:
    host: broker.example.internal
    port: 8883
    tls: true
    ca_cert: /etc/alicia/certs/ca.pem
    username: health_monitor
    password: "{{ catalogue_secrets['health_monitor']['MQTT_PASSWORD'] }}"
    timeout: 5
  no_log: true
"""

RETURN = r"""
ok:
  description: Whether the round trip succeeded.
  returned: always
  type: bool
  sample: true
failure:
  description: Kind of failure, null on success.
  returned: always
  type: str
  sample: not_authorised
broker:
  description: The broker checked, as host:port.
  returned: always
  type: str
  sample: 127.0.0.1:1883
topic:
  description: Topic of the round trip.
  returned: always
  type: str
  sample: alicia/stt_service/healthcheck
client_id:
  description: Client id used.
  returned: success
  type: str
  sample: alicia-check-0c1d2e3f4a5b
latency:
  description: Seconds taken by each step.
  returned: success
  type: dict
  contains:
    connect:
      description: Until the broker accepted the login (CONNACK).
      type: float
      sample: 0.0031
    subscribe:
      description: Until the subscription was granted (SUBACK).
      type: float
      sample: 0.0004
    round_trip:
      description: From publishing the test message until it came back.
      type: float
      sample: 0.0003
    total:
      description: The whole check.
      type: float
      sample: 0.0041
paho_version:
  description: Version of the paho-mqtt library used.
  returned: when paho-mqtt is installed
  type: str
  sample: 1.6.1
msg:
  description: What happened.
  returned: always
  type: str
  sample: "MQTT round trip on 127.0.0.1:1883 as stt_service in 0.004 s"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.alicia.platform.plugins.module_utils import _mqtt_connection as connection
from ansible_collections.alicia.platform.plugins.module_utils import mqtt as mqtt_utils


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            connection.argument_spec(),
            client_id=dict(type="str"),
            topic=dict(type="str"),
            qos=dict(type="int", default=1, choices=[0, 1, 2]),
            timeout=dict(type="float", default=10),
            keepalive=dict(type="int", default=30),
            client_cert=dict(type="path"),
            client_key=dict(type="path"),
        ),
        supports_check_mode=True,
        required_by=dict(client_key=["client_cert"]),
    )
    params = module.params
    broker = "%s:%s" % (params["host"], params["port"])
    topic = params["topic"] or mqtt_utils.default_topic(params["username"], params["client_id"])
    if not mqtt_utils.HAS_PAHO:
        module.fail_json(msg=missing_required_lib("paho-mqtt (Debian: python3-paho-mqtt)"),
                         exception=mqtt_utils.PAHO_IMPORT_ERROR, ok=False, failure="missing_library",
                         broker=broker, topic=topic)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive", ok=False, failure="protocol", broker=broker, topic=topic)
    try:
        result = mqtt_utils.check(
            params["host"], port=params["port"], username=params["username"], password=params["password"],
            client_id=params["client_id"], topic=topic, tls=params["tls"], ca_cert=params["ca_cert"],
            client_cert=params["client_cert"], client_key=params["client_key"],
            tls_insecure=params["tls_insecure"], timeout=params["timeout"], qos=params["qos"],
            keepalive=params["keepalive"],
        )
    except mqtt_utils.MqttCheckError as exc:
        failed = dict(changed=False, ok=False, failure=exc.kind, broker=broker, topic=topic,
                      paho_version=mqtt_utils.PAHO_VERSION, msg="mqtt_check: %s" % exc)
        if module.check_mode:
            module.warn("check mode: " + failed["msg"])
            module.exit_json(**failed)
        module.fail_json(**failed)
    who = params["username"] or "an anonymous client"
    module.exit_json(changed=False, ok=True, failure=None, broker=broker,
                     msg="MQTT round trip on %s as %s in %.3f s" % (broker, who, result["latency"]["total"]),
                     **result)


def main():
    run_module()


if __name__ == "__main__":
    main()
