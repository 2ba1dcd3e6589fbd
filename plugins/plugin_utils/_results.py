# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's callbacks read of a task result, on every supported
ansible-core (the public ``host`` and ``task`` attributes are new in 2.19)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def result_host(result):
    """The inventory host name a result is for (the delegating host for delegated tasks)."""
    host = getattr(result, "host", None) or result._host  # .host from ansible-core 2.19 on
    return host.get_name()


def result_task(result):
    """The task a result is for."""
    return getattr(result, "task", None) or result._task  # .task from ansible-core 2.19 on
