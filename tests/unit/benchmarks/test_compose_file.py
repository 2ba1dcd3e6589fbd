"""benchmarks/parts/compose_file.py: the docker-compose file generated from the resolved catalogue."""

import pytest
import yaml

from parts import catalogue_data, compose_file, lab


def secrets_for(resolved):
    return dict((name, dict((secret, "s3cret-%s-%s" % (name, secret)) for secret in entry.get("secrets") or []))
                for name, entry in resolved.items())


def lab_overrides():
    with open("%s/inventories/lab/group_vars/all/main.yml" % lab.ROOT) as handle:
        return yaml.safe_load(handle)["catalogue_overrides"]


def test_every_service_of_the_shipped_catalogue_in_seed_000s_shape():
    resolved = catalogue_data.resolved()
    services = [name for name, entry in resolved.items() if entry["kind"] == "service"]
    assert len(services) == 22
    document = compose_file.compose_document(resolved, "alicia/reference:abc", secrets_for(resolved), "172.20.0.1")
    assert document["version"] == "3.8"
    assert sorted(document["services"]) == sorted(services)  # the broker is the host's, not a compose service
    assert document["networks"] == {"alicia_network": {"driver": "bridge", "ipam": {"config": [
        {"subnet": "172.20.0.0/16", "ip_range": "172.20.240.0/20"}]}}}
    gateway = document["services"]["security_gateway"]
    assert gateway["image"] == "alicia/reference:abc"
    assert gateway["container_name"] == "alicia_security_gateway"
    assert gateway["ports"] == ["8009:8009"]
    assert gateway["networks"] == ["alicia_network"]
    env = gateway["environment"]
    assert env["MQTT_BROKER"] == "172.20.0.1" and env["MQTT_PORT"] == "1883"
    assert env["MQTT_USERNAME"] == "security_gateway" and env["SERVICE_PORT"] == "8009"
    assert env["MQTT_PASSWORD"] == "s3cret-security_gateway-MQTT_PASSWORD"
    assert env["JWT_SECRET"] == "s3cret-security_gateway-JWT_SECRET"
    assert "JWT_SECRET" not in document["services"]["device_registry"]["environment"]
    assert gateway["healthcheck"]["test"][:3] == ["CMD", "python3", "-c"]
    assert gateway["healthcheck"]["test"][-1] == "/health"
    assert gateway["read_only"] is True and gateway["cap_drop"] == ["ALL"]
    assert gateway["logging"] == {"driver": "json-file", "options": {"max-size": "50m", "max-file": "5"}}


def test_limits_and_reservations_come_from_the_catalogue_resources():
    resolved = catalogue_data.resolved(lab_overrides())
    document = compose_file.compose_document(resolved, "img", secrets_for(resolved), "b")
    stt = resolved["stt_service"]["resources"]
    assert document["services"]["stt_service"]["deploy"]["resources"] == {
        "limits": {"cpus": "%g" % stt["cpu_limit"], "memory": stt["memory_limit"]},
        "reservations": {"cpus": "%g" % stt["cpu_reservation"], "memory": stt["memory_reservation"]}}
    assert stt["memory_limit"] == "512M"  # the lab's override, not the catalogue's default


def test_one_container_per_instance_each_with_its_port():
    resolved = catalogue_data.resolved(lab_overrides())  # the lab runs tts_service as two instances
    document = compose_file.compose_document(resolved, "img", secrets_for(resolved), "b",
                                             container_prefix="compose_alicia_")
    assert len(document["services"]) == 23
    primary, secondary = document["services"]["tts-primary"], document["services"]["tts-secondary"]
    assert primary["ports"] == ["8003:9000"] and primary["environment"]["SERVICE_PORT"] == "9000"
    assert secondary["ports"] == ["9001:9001"] and secondary["environment"]["SERVICE_INSTANCE"] == "tts-secondary"
    assert primary["container_name"] == "compose_alicia_tts-primary"


def test_external_network_and_missing_secret():
    resolved = catalogue_data.resolved()
    document = compose_file.compose_document(resolved, "img", secrets_for(resolved), "b",
                                             network={"name": "alicia_platform", "external": True})
    assert document["networks"] == {"alicia_platform": {"external": True}}
    assert document["services"]["ha_bridge"]["networks"] == ["alicia_platform"]
    secrets = secrets_for(resolved)
    del secrets["ha_bridge"]["HA_TOKEN"]
    with pytest.raises(ValueError, match="service 'ha_bridge': missing secret 'HA_TOKEN'"):
        compose_file.compose_document(resolved, "img", secrets, "b")
