# -*- coding: utf-8 -*-
"""The single-value checks shared by the catalogue and the role-input checks
(module_utils/_validation.py, module_utils/_network.py helpers)."""

import pytest

from ansible_collections.alicia.platform.plugins.module_utils import _network as net
from ansible_collections.alicia.platform.plugins.module_utils import _validation as val


@pytest.mark.parametrize("value,expected", [
    (1, 1), (512, 512), ("512", 512), ("64k", 65536), ("64K", 65536), ("512M", 512 * 1024 ** 2),
    ("1G", 1024 ** 3), ("2t", 2 * 1024 ** 4),
    (0, None), (-1, None), ("0", None), ("0G", None), ("-1G", None), ("1.5G", None), ("1 G", None), ("1GB", None),
    ("", None), ("G", None), (1.0, None), (True, None), (None, None), ([], None), ("512M\n", None),
])
def test_size_bytes(value, expected):
    assert val.size_bytes(value) == expected


@pytest.mark.parametrize("value,ok", [
    (0.5, True), (2, True), (1e-3, True), (0, False), (-2, False), ("1", False), (True, False),
    (float("inf"), False), (float("nan"), False), (None, False),
])
def test_cpu_problem(value, ok):
    assert (val.cpu_problem(value) is None) is ok


@pytest.mark.parametrize("topic,ok", [
    ("#", True), ("+", True), ("a/+/b/#", True), ("/", True), ("a//b", True), ("$SYS/broker/#", True),
    ("", False), ("a/#/b", False), ("#/a", False), ("a#", False), ("a/b+", False), ("++", False),
    ("a b", False), ("a\tb", False), ("a\u00a0b", False), ("a\nb", False), ("a\rb", False), ("a\x00b", False),
    ("a\x85b", False), ("\ud800", False), (None, False), (["a"], False),
])
def test_mqtt_topic_problem(topic, ok):
    assert (val.mqtt_topic_problem(topic) is None) is ok


def test_mqtt_topic_length_counts_utf8_bytes():
    assert val.mqtt_topic_problem("a" * 65535) is None
    assert val.mqtt_topic_problem("\u20ac" * 21845) is None          # 3 bytes each: 65535
    assert "65538 bytes" in val.mqtt_topic_problem("\u20ac" * 21846)


@pytest.mark.parametrize("username,ok", [
    ("alicia_admin", True), ("svc.name@home-1", True), ("A", True),
    ("", False), ("a+b", False), ("a#", False), ("a/b", False), ("a b", False), ("a\n", False), ("é", False),
    (None, False), (1, False),
])
def test_mqtt_username_problem(username, ok):
    assert (val.mqtt_username_problem(username) is None) is ok


@pytest.mark.parametrize("name,ok", [
    ("MQTT_PASSWORD", True), ("_x", True), ("a1", True), ("1a", False), ("A-B", False), ("", False), ("A\n", False),
    (None, False),
])
def test_identifier_problem(name, ok):
    assert (val.identifier_problem(name) is None) is ok


def test_line_breaks_and_single_line():
    assert val.has_line_break("a\nb") and val.has_line_break("a\rb") and val.has_line_break("a\x00b")
    assert not val.has_line_break("a\tb") and not val.has_line_break(None)
    assert val.single_line_problem("accept") is None
    assert val.single_line_problem(3) == "must be a string, got int"
    assert "single line" in val.single_line_problem("a\nb")


@pytest.mark.parametrize("value,ok", [
    ("10.0.0.0/8", True), ("10.0.0.1/8", True), ("192.0.2.7", True), ("0.0.0.0/0", True), ("::/0", True),
    ("fd00::/8", True), ("2001:db8::1", True), ("::ffff:10.0.0.1", True),
    ("10.0.0.0/33", False), ("256.0.0.1", False), ("10.0.0", False), ("fd00::/129", False), ("fe80::1%eth0", False),
    ("host.example", False), ("", False), (" 10.0.0.1", False), ("10.0.0.1\n", False), (10, False), (None, False),
    ("010.0.0.1", False),
])
def test_is_network(value, ok):
    assert net.is_network(value) is ok


@pytest.mark.parametrize("value,port", [(22, 22), ("2222", 2222), (65535, 65535), (0, None), (65536, None),
                                        ("ssh", None), (True, None), (22.0, None), (None, None)])
def test_port_number(value, port):
    assert net.port_number(value) == port


@pytest.mark.parametrize("path,ok", [
    ("/var/log/x.log", True), ("var/log", False), ("", False), ("/a b", False), ("/a\nb", False), (None, False),
])
def test_absolute_path_problem(path, ok):
    assert (val.absolute_path_problem(path) is None) is ok
