# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The broker connection options the collection's MQTT modules share
(mqtt_check, registry): their argument spec here, their documentation in
the doc fragment alicia.platform.mqtt_connection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def argument_spec():
    """A new argument spec of the connection options: host, port, username,
    password (no_log), tls, ca_cert and tls_insecure."""
    return dict(
        host=dict(type="str", default="127.0.0.1"),
        port=dict(type="int", default=1883),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tls=dict(type="bool", default=False),
        ca_cert=dict(type="path"),
        tls_insecure=dict(type="bool", default=False),
    )
