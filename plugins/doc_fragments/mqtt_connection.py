# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The broker connection options of the collection's MQTT modules
    (their argument spec: module_utils/_mqtt_connection.py)."""

    DOCUMENTATION = r"""
options:
  host:
    description:
      - Broker host name or address.
    type: str
    default: 127.0.0.1
  port:
    description:
      - Broker port.
    type: int
    default: 1883
  username:
    description:
      - Login user name; leave unset for an anonymous connection.
    type: str
  password:
    description:
      - Login password.
    type: str
  tls:
    description:
      - Connect over TLS.
    type: bool
    default: false
  ca_cert:
    description:
      - CA certificate file to verify the broker with; the system's CAs when unset.
    type: path
  tls_insecure:
    description:
      - Do not verify the broker's certificate or host name. Only for tests.
    type: bool
    default: false
"""
