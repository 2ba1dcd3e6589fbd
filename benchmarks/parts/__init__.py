"""The parts of benchmarks/run.py, in the order a full run takes them.

Each part is a module with NAME, NEEDS (what it needs, printed by --list),
WHAT (one line) and run(context), which records figures through
context.results (report.Results) and may raise to fail only itself.
"""

from . import (catalogue, compose, converge, crashloop_gate, growth, health_gate, rerun, scaling,
               zero_downtime)

# Lab parts in an order that reuses the deployed one-host lab: converge leaves
# it deployed, rerun and health_gate use it, growth adds extra services to it,
# compose and scaling make their own hosts.
ORDER = [catalogue, crashloop_gate, converge, rerun, health_gate, growth, compose, scaling, zero_downtime]
PARTS = dict((part.NAME, part) for part in ORDER)
# One quick pass that needs no lab (make bench-quick).
QUICK_DEFAULT = ["catalogue", "health_gate", "crashloop_gate", "zero_downtime"]
