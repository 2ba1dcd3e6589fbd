# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of what an operation playbook (restart, restart_all, teardown,
recover) is asked to act on, run on the controller before any host is
touched: one message per problem, naming the operation and the field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _services(catalogue):
    return sorted(name for name, entry in catalogue.items()
                  if isinstance(entry, dict) and entry.get("kind", "service") == "service")


def target_errors(catalogue, groups, service=None, host=None, operation="operation", require_service=False,
                  instance=None):
    """Problems with an operation's ``service``, ``host`` and ``instance``
    (all optional, unless ``require_service``).

    ``service`` must name a catalogue service (not the broker); ``host``
    must be an inventory host and, with a service, one of the hosts of the
    service's group; ``instance`` needs a service and must name one of its
    instances (a multi-instance service). ``groups`` is the inventory's ``groups``.
    """
    errors = []
    known = _services(catalogue)
    entry = None
    if service is None and require_service:
        errors.append("%s: service: required (-e service=<name>); the catalogue's services are: %s"
                      % (operation, ", ".join(known)))
    if service is not None:
        if not isinstance(service, str) or service not in known:
            errors.append("%s: service: unknown service %r; the catalogue's services are: %s"
                          % (operation, service, ", ".join(known)))
        else:
            entry = catalogue[service]
            if not (groups or {}).get(entry.get("group")):
                errors.append("%s: service %s: its group %s has no hosts in this inventory"
                              % (operation, service, entry.get("group")))
    if host is not None:
        every = (groups or {}).get("all") or []
        if not isinstance(host, str) or host not in every:
            errors.append("%s: host: unknown inventory host %r" % (operation, host))
        elif entry is not None and host not in (groups.get(entry.get("group")) or []):
            errors.append("%s: host: %s does not run %s (the hosts of group %s: %s)"
                          % (operation, host, service, entry.get("group"),
                             ", ".join(groups.get(entry.get("group")) or []) or "none"))
    if instance is not None and instance != "":
        names = [i.get("name") for i in (entry or {}).get("instance_list") or [] if isinstance(i, dict)]
        if service is None:
            errors.append("%s: instance: needs a service (-e service=<name> -e instance=<instance>)" % operation)
        elif entry is not None and not names:
            errors.append("%s: instance: service %s runs one instance (no instance %r); drop -e instance"
                          % (operation, service, instance))
        elif entry is not None and instance not in names:
            errors.append("%s: instance: service %s has no instance %r; its instances are: %s"
                          % (operation, service, instance, ", ".join(names)))
    return errors
