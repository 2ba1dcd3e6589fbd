#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: containers
short_description: Reconcile many Docker containers, their images and their network in one module execution
version_added: 0.1.0
description:
  - Brings every container of O(containers) to its desired configuration and running, recreates the
    containers of O(restart), and removes the containers of O(absent), in B(one) module execution, so a
    role replaces a M(community.docker.docker_container) loop with one task. It drives the C(docker) CLI
    only (no Docker SDK for Python on the host).
  - Reads the host with at most three calls - one C(docker network inspect) of O(network) and of every other
    O(containers[].network), one C(docker image inspect) of every image wanted and of O(base_image), and one
    C(docker container inspect) of every container named - then acts in this order - create the network, load
    the base image, build the missing images (one C(docker build) per image), C(docker stop) and C(docker rm)
    of the containers to recreate or remove (one call each), with O(recreate_network) C(docker network rm) and
    C(docker network create), C(docker create) per new container, and one C(docker start) of every container
    to start. The containers started are read again; one that is not running (exited,
    dead, restarting) makes the module fail naming it with the last lines of C(docker logs).
  - Each container is created with a label holding the hash of its whole configuration (every
    C(docker create) argument and the image); a container whose label differs, whose image was rebuilt,
    which is in O(restart), or which is older than its O(containers[].env_file) is recreated (stopped,
    removed, created, started). Docker reads an environment file only when it creates a container, so an
    environment change needs a new container, not C(docker restart). A stopped container whose
    configuration is right is started.
  - A container is also recreated when it no longer points at its network - Docker keeps the id of the network
    a container was attached to (C(NetworkSettings.Networks.<name>.NetworkID)) and C(docker start) of a container
    whose network was removed, or removed and created again under the same name (a new id), fails with
    C(network <id> not found). So a container is recreated when that id differs from the network's current
    C(Id), when its network is missing (and created by this run), or when it is not attached to its network
    at all (C(docker network disconnect)). A container created and never started has no id yet and is left
    alone.
  - Images built here (O(containers[].build)) are tagged C(<image>:<hash>) with the first 12 hex digits of
    the sha256 of the build context (every file's relative path, executable bit and content), so a re-run
    never rebuilds, services with identical contexts share one image, and a changed Dockerfile or artifact
    gives a new tag. Images are never pulled - an image that is not on the host and has no build context
    makes the module fail before anything changes.
  - The module fails before changing anything when an argument is wrong (each problem named), when the
    network exists with another driver, subnet, ip-range or gateway (unless O(recreate_network)), when a new
    network's subnet overlaps one of the host's routes, when O(recreate_network) would remove a network that a
    running container not named in this call is attached to, when a O(containers[].network) other than
    O(network) does not exist, or when an image must be built while O(base_image) is missing and no archive
    of it is available.
author:
  - Alicia platform engineers (@alicia-platform)
options:
  containers:
    description:
      - The containers to run, each named once, created in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Container name (letters, digits, C(_ . -)).
        type: str
        required: true
      image:
        description:
          - The image to run, already on the host; or, with O(containers[].build), the repository
            (without a tag) of the image built from the build context.
        type: str
        required: true
      build:
        description:
          - A directory on the host holding a C(Dockerfile) and what it copies; the image
            C(<image>:<context hash>) is built from it when missing.
        type: path
      dockerfile:
        description:
          - The Dockerfile to build with, relative to O(containers[].build) (C(docker build --file));
            C(Dockerfile) when omitted. Part of the image's tag.
        type: str
      command:
        description: Arguments after the image (the image's C(CMD) when omitted).
        type: list
        elements: str
      env_file:
        description:
          - An environment file on the host (C(NAME=value) lines), passed as C(--env-file) - its values
            never appear on a command line or in the module's output. A container older than this file is
            recreated.
        type: path
      user:
        description:
          - User (name or uid) the container's process runs as, looked up on the host and passed as
            C(--user uid:gid); the image's user when omitted.
        type: str
      group:
        description: Group (name or gid) of the process; the user's primary group when omitted.
        type: str
      network:
        description:
          - The network the container joins; O(network.name) when omitted. Another network must exist on the host
            (only O(network) is created).
        type: str
      hostname:
        description: The container's host name.
        type: str
      published_ports:
        description: C([address:]host_port:container_port[/tcp|udp|sctp]), one C(--publish) each.
        type: list
        elements: str
        default: []
      volumes:
        description: Bind mounts and volumes, C(source:destination[:options]), one C(--volume) each.
        type: list
        elements: str
        default: []
      tmpfs:
        description: C(path[:options]), one C(--tmpfs) each.
        type: list
        elements: str
        default: []
      read_only:
        description: Mount the container's root file system read-only.
        type: bool
        default: false
      cap_drop:
        description: Capabilities dropped (C(ALL)).
        type: list
        elements: str
        default: []
      cap_add:
        description: Capabilities added.
        type: list
        elements: str
        default: []
      security_opts:
        description: C(--security-opt) values (C(no-new-privileges)).
        type: list
        elements: str
        default: []
      memory:
        description: Memory limit, bytes or with C(k), C(m), C(g), C(t) (binary, any case, C(512M)).
        type: str
      memory_reservation:
        description: Memory reservation (soft limit), same syntax as O(containers[].memory).
        type: str
      cpus:
        description: CPU limit in cores (C(--cpus)).
        type: float
      cpu_shares:
        description: Relative CPU weight under contention (C(--cpu-shares), 1024 for one core).
        type: int
      restart_policy:
        description: What Docker does when the container exits (and when the daemon starts).
        type: str
        choices: ["no", always, unless-stopped, on-failure]
        default: unless-stopped
      restart_retries:
        description: With O(containers[].restart_policy=on-failure), how many restarts at most.
        type: int
      healthcheck:
        description: The container's health check, over the image's C(HEALTHCHECK); the image's when omitted.
        type: dict
        suboptions:
          test:
            description: The command (argv); run by Docker's shell as one quoted line.
            type: list
            elements: str
          interval:
            description: Time between checks (C(10s)).
            type: str
          timeout:
            description: Time one check may take.
            type: str
          retries:
            description: Consecutive failures that make the container unhealthy.
            type: int
          start_period:
            description: Time after the start during which failures do not count.
            type: str
          disable:
            description: No health check at all (C(--no-healthcheck)).
            type: bool
            default: false
      log_driver:
        description: Logging driver.
        type: str
        default: json-file
      log_options:
        description: C(--log-opt) values (C(max-size), C(max-file) for C(json-file)).
        type: dict
        default: {}
      labels:
        description: Labels of the container (the module adds C(alicia.platform.managed) and C(alicia.platform.config)).
        type: dict
        default: {}
      stop_timeout:
        description: Seconds between SIGTERM and SIGKILL when the container is stopped.
        type: int
  restart:
    description:
      - Names of O(containers) to recreate even when their configuration is unchanged, for example because
        their environment file or build context changed in this run.
    type: list
    elements: str
    default: []
  absent:
    description:
      - Containers to stop and remove when they exist; not in O(containers).
    type: list
    elements: str
    default: []
  network:
    description:
      - The network the containers join, created when missing (labelled C(alicia.platform.managed)). An
        existing network with another driver, subnet, ip-range or gateway makes the module fail - it is
        never recreated under running containers, only with O(recreate_network).
    type: dict
    suboptions:
      name:
        description: Network name.
        type: str
        required: true
      driver:
        description: Network driver.
        type: str
        default: bridge
      subnet:
        description: IPv4 subnet in CIDR form (C(172.20.0.0/16)).
        type: str
      ip_range:
        description: The part of the subnet containers get addresses from (C(172.20.240.0/20)).
        type: str
      gateway:
        description: The host's address on the network.
        type: str
      options:
        description: Driver options (C(--opt)).
        type: dict
        default: {}
  base_image:
    description:
      - The image the build contexts start from (their C(FROM)). Checked only when an image must be built.
    type: str
  base_image_archive:
    description:
      - A C(docker save) archive of O(base_image) on the controller. The action plugin copies it to the host
        and the module loads it only when an image must be built and O(base_image) is missing, so a re-run
        never transfers it.
      - Called without its action plugin, the module only takes it as a promise that the archive exists -
        when it is needed the module changes nothing and returns RV(base_image_missing).
    type: str
  base_image_load:
    description:
      - A C(docker save) archive of O(base_image) on the host, loaded (C(docker load)) when an image must be
        built and O(base_image) is missing. The action plugin sets it after copying O(base_image_archive).
    type: path
  recreate_network:
    description:
      - Remove O(network) and create it again (a new network id, the settings of O(network)), for a complete
        recovery - the containers of O(containers) on it are stopped and removed first, and created and started
        again on the new network, the containers of O(absent) are removed. A missing network is just created.
      - A running container attached to the network that this call does not name (in O(containers) on this
        network, or in O(absent)) makes the module fail before anything changes - Docker refuses to remove a
        network with active endpoints. Stopped containers it does not name are left pointing at the old
        network - the next run that manages them recreates them.
      - Always changes something - for recovery playbooks, not for a converge that must be idempotent.
      - Images are built and the base image loaded before anything is removed, so a failed build leaves the
        network and its containers as they were.
    type: bool
    default: false
  prune_images:
    description:
      - After building, remove the images of the same repositories that this module built earlier and that no
        container uses and no container of O(containers) wants (Docker refuses to remove an image a container
        still uses).
    type: bool
    default: false
  wait:
    description:
      - Seconds to read the started containers again while one of them is still C(created) or C(restarting).
        V(0) reads them once.
    type: float
    default: 0
  docker:
    description: Path of the docker CLI; found on the C(PATH) when omitted.
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Only the inspect calls run; O(recreate_network) is reported as RV(network_recreated) with the containers
        that would be recreated, the new network id unknown (V(null)). A build context that does not exist yet (its files would be written by an
        earlier task that did nothing in check mode) is reported as an image to build.
      - On a host where the docker CLI is not installed yet or the daemon does not answer (the engine would be
        installed by an earlier task), everything is reported as created.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - "One diff listing the network created or recreated, the images built and each container acted on as
        C(<name>: <status> (<image>)) before and after."
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - The module never pulls an image, and never recreates a network unless O(recreate_network) asks for it.
  - Containers that exist under a name of O(containers) without the module's configuration label (created by
    hand) are recreated.
seealso:
  - module: community.docker.docker_container
  - module: alicia.platform.units
"""

EXAMPLES = r"""
- name: Voice | containers of the phase, in one task
  alicia.platform.containers:
    network:
      name: alicia_network
      subnet: 172.20.0.0/16
      ip_range: 172.20.240.0/20
      gateway: 172.20.0.1
    base_image: alicia-test/debian:bookworm
    base_image_archive: /srv/images/debian-bookworm.tar
    containers:
      - name: alicia_stt_service
        image: alicia/reference
        build: /opt/alicia/stt_service/current
        env_file: /etc/alicia/stt_service.env
        user: alicia
        published_ports: ["8001:8001"]
        memory: 1G
        memory_reservation: 512M
        cpus: 2.0
        cpu_shares: 1024
        restart_policy: unless-stopped
        read_only: true
        tmpfs: [/tmp]
        cap_drop: [ALL]
        security_opts: [no-new-privileges]
        log_options: {max-size: "52428800", max-file: "5"}
    restart: "{{ ['alicia_stt_service'] if 'stt_service' in voice_files.changed_keys else [] }}"
    absent: [alicia_old_service]
    prune_images: true
  register: voice_containers

# Recovery: the host's containers removed, the network removed and created again (a new id);
# the containers are created again by the next converge.
- name: Recover | the docker network recreated
  alicia.platform.containers:
    network:
      name: alicia_network
      subnet: 172.20.0.0/16
    recreate_network: true
    absent: [alicia_stt_service, alicia_tts_service]
"""

RETURN = r"""
changed:
  description: Whether the network, an image or a container was (or in check mode would be) created, built,
    loaded, recreated, started, removed or pruned.
  returned: always
  type: bool
  sample: true
containers:
  description: One result per container of O(containers) and O(absent).
  returned: always
  type: dict
  sample:
    alicia_stt_service:
      actions: [recreated, started]
      reason: configuration changed
      before: {exists: true, status: running, health: healthy, image: "alicia/reference:0a1b2c3d4e5f",
               config: 9f2c..., id: 3c1d2e3f4a5b, log_path: /var/lib/docker/containers/3c1d.../3c1d...-json.log}
      after: {exists: true, status: running, health: starting, image: "alicia/reference:6a7b8c9d0e1f",
              config: 1d3e..., id: 7e8f9a0b1c2d, log_path: /var/lib/docker/containers/7e8f.../7e8f...-json.log}
  contains:
    actions:
      description: What was (or in check mode would be) done, in order.
      type: list
      elements: str
      choices: [removed, recreated, created, started]
    reason:
      description: Why the container is recreated.
      type: str
    before:
      description:
        - The container as read at the start - C(exists), C(status) (Docker's C(State.Status), C(absent) when it
          does not exist), C(health), C(image) (the reference it was created from), C(config) (its configuration
          hash label), C(id) (short) and C(log_path) (the json-file log Docker writes, when it does). Never its
          environment.
      type: dict
    after:
      description: The same keys after the run - read again for containers started, otherwise predicted.
      type: dict
created:
  description: Containers created.
  returned: always
  type: list
  elements: str
  sample: [alicia_stt_service]
recreated:
  description: Containers removed and created again.
  returned: always
  type: list
  elements: str
  sample: []
started:
  description: Containers started (new, recreated or stopped).
  returned: always
  type: list
  elements: str
  sample: [alicia_stt_service]
removed:
  description: Containers of O(absent) removed.
  returned: always
  type: list
  elements: str
  sample: []
built:
  description: Images built (C(repository:hash)).
  returned: always
  type: list
  elements: str
  sample: ["alicia/reference:0a1b2c3d4e5f"]
pruned:
  description: Images removed by O(prune_images).
  returned: always
  type: list
  elements: str
  sample: []
network_created:
  description: Whether the network was (or would be) created where there was none.
  returned: always
  type: bool
  sample: false
network_recreated:
  description: Whether O(network) was (or would be) removed and created again (O(recreate_network)).
  returned: always
  type: bool
  sample: true
network:
  description: O(network) before and after the run.
  returned: when O(network) is set and the docker daemon answers
  type: dict
  sample: {name: alicia_network, id_before: 3f9a0c..., id: 8b1e4d...}
  contains:
    name:
      description: The network's name.
      type: str
    id_before:
      description: Its full C(Id) as read at the start; V(null) when it did not exist.
      type: str
    id:
      description: Its C(Id) after the run; V(null) in check mode when it would be (re)created.
      type: str
base_image_loaded:
  description: Whether O(base_image) was (or would be) loaded from its archive.
  returned: always
  type: bool
  sample: false
base_image_missing:
  description:
    - Without the action plugin - O(base_image) must be loaded from O(base_image_archive) before anything
      else; nothing was changed.
  returned: when the archive is needed
  type: bool
  sample: true
failed_containers:
  description: The containers the failure is about.
  returned: failure
  type: list
  elements: str
  sample: [alicia_stt_service]
diff:
  description: Before and after lines of the network, images and containers acted on.
  returned: diff mode
  type: dict
  sample:
    before_header: docker containers
    after_header: docker containers
    before: "alicia_stt_service: absent\n"
    after: "alicia_stt_service: running (alicia/reference:0a1b2c3d4e5f)\n"
msg:
  description: Summary of what was done, one C(<name> <before> -> <after>) part per container acted on.
  returned: always
  type: str
  sample: "built alicia/reference:0a1b2c3d4e5f; 1 of 3 containers changed: alicia_stt_service absent -> running (...)"
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alicia.platform.plugins.module_utils._containers import (
    ContainersError,
    Docker,
    DockerUnavailable,
    argument_spec,
    check_args,
    predict_without_docker,
    reconcile,
)


def run_module():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params["docker"]:
        binary = params["docker"] if os.access(params["docker"], os.X_OK) else None
    else:
        binary = module.get_bin_path("docker")

    def fail(exc):
        result = dict(exc.result or {})
        result.update(msg="containers: %s" % exc.msg, failed_containers=exc.failed_containers)
        module.fail_json(**result)

    def run(argv):
        return module.run_command(argv, environ_update=dict(DOCKER_CLI_HINTS="false"))

    if binary is None:
        errors = check_args(params["containers"], params["restart"], params["absent"], params["network"],
                            params["wait"], params["recreate_network"])
        if errors:
            fail(ContainersError("; ".join(errors)))
        if module.check_mode:
            module.exit_json(**predict_without_docker(params, "no docker CLI on the host", module._diff))
        module.fail_json(msg="containers: no docker CLI on the host (Debian: docker.io)", failed_containers=[])
    try:
        result = reconcile(params, Docker(binary, run), check_mode=module.check_mode, want_diff=module._diff)
    except DockerUnavailable as exc:
        if module.check_mode:
            module.exit_json(**predict_without_docker(params, "the daemon does not answer", module._diff))
        module.fail_json(msg="containers: the Docker daemon does not answer (is docker.service running?): %s" % exc,
                         failed_containers=[])
    except ContainersError as exc:
        fail(exc)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
