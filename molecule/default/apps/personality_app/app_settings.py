"""A sibling module of main.py (the python_app artifact keeps the layout)."""

import os
import sys


def announce(dependency_version):
    """One line in the service's log: which artifact and dependency run."""
    sys.stdout.write("%s: python_app release %s, alicia_demo_dep %s\n"
                     % (os.environ.get("SERVICE_NAME", "?"), os.environ.get("SERVICE_VERSION", "?"), dependency_version))
    sys.stdout.flush()
