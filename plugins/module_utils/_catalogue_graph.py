# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dependency graph of a resolved catalogue as Mermaid or Graphviz DOT text.

Private: import the public names from module_utils/catalogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import CatalogueError, unique
from ansible_collections.alicia.platform.plugins.module_utils._catalogue_order import order, rank


def _phase_list(catalogue):
    entries = [e for e in catalogue.values() if isinstance(e, dict)]
    phases = sorted(unique([e.get("phase") for e in entries]),
                    key=lambda p: min(rank(e) for e in entries if e.get("phase") == p))
    return phases


def _graph_edges(catalogue, broker_edges):
    brokers = set(n for n, e in catalogue.items() if e.get("kind") == "broker")
    edges = []
    for name in order(catalogue):
        for dep, spec in (catalogue[name].get("depends_on") or {}).items():
            if dep not in catalogue or (dep in brokers and not broker_edges):
                continue
            edges.append((dep, name, (spec or {}).get("type", "required")))
    return edges


def graph(catalogue, fmt="mermaid", broker_edges=False, title="Alicia platform"):
    """The dependency graph as Mermaid or Graphviz DOT text.

    Phases are subgraphs/clusters in phase order; an edge points from a
    dependency to the service that needs it (deploy order); required edges
    are solid, optional ones dashed. Edges to the broker, which every service
    requires, are left out unless ``broker_edges``.
    """
    if fmt not in ("mermaid", "dot"):
        raise CatalogueError("catalogue: graph format must be 'mermaid' or 'dot', got %r" % (fmt,))
    catalogue = dict((n, e) for n, e in catalogue.items() if isinstance(e, dict))
    names = order(catalogue)
    phases = _phase_list(catalogue)
    edges = _graph_edges(catalogue, broker_edges)
    brokers = [n for n in names if catalogue[n].get("kind") == "broker"]
    if fmt == "mermaid":
        lines = ["---", "title: %s" % title, "---", "flowchart TD"]
        for i, phase in enumerate(phases):
            lines.append('  subgraph phase_%s["%d. %s"]' % (phase, i + 1, phase))
            for name in names:
                entry = catalogue[name]
                if entry.get("phase") != phase:
                    continue
                label = "%s<br/>:%s" % (name, entry.get("port"))
                if entry.get("kind") == "broker":
                    lines.append('    svc_%s[("%s")]' % (name, label))
                else:
                    lines.append('    svc_%s["%s"]' % (name, label))
            lines.append("  end")
        for before, after in zip(phases, phases[1:]):
            lines.append("  phase_%s ~~~ phase_%s" % (before, after))  # keeps the phases in order
        for dep, name, dep_type in edges:
            arrow = "-.->" if dep_type == "optional" else "-->"
            lines.append("  svc_%s %s svc_%s" % (dep, arrow, name))
        if brokers and not broker_edges:
            lines.append("  %%%% every service also requires %s" % ", ".join(brokers))
        return "\n".join(lines) + "\n"

    lines = [
        "digraph alicia {",
        '  label="%s: deploy order (solid: required, dashed: optional%s)";'
        % (title, "; every service requires %s" % ", ".join(brokers) if brokers and not broker_edges else ""),
        "  labelloc=t;",
        "  rankdir=TB;",
        "  newrank=true;",
        '  fontname="Helvetica";',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
        '  edge [color="#445566", arrowsize=0.7];',
    ]
    for i, phase in enumerate(phases):
        lines.append("  subgraph cluster_%s {" % phase)
        lines.append('    label="%d. %s";' % (i + 1, phase))
        lines.append('    style="rounded,filled"; fillcolor="#f7f7f7"; color="#bbbbbb";')
        for name in names:
            entry = catalogue[name]
            if entry.get("phase") != phase:
                continue
            shape = ', shape=cylinder, fillcolor="#fdf2d0"' if entry.get("kind") == "broker" else ""
            lines.append('    %s [label="%s\\n:%s"%s];' % (name, name, entry.get("port"), shape))
        lines.append("  }")
    # Keep the phases in order, top to bottom: invisible edges from every
    # service of a phase to the services of the next phase that depend on
    # nothing in their own phase.
    ranks = dict((n, rank(catalogue[n])) for n in names)
    for before, after in zip(phases, phases[1:]):
        upper = [n for n in names if catalogue[n].get("phase") == before]
        lower = [n for n in names if catalogue[n].get("phase") == after]
        roots = [n for n in lower if not any(dep in lower for dep in (catalogue[n].get("depends_on") or {}))]
        for top in upper:
            for bottom in roots:
                lines.append("  %s -> %s [style=invis];" % (top, bottom))
    for dep, name, dep_type in edges:
        attrs = ["style=dashed"] if dep_type == "optional" else []
        if ranks.get(dep, 0) > ranks.get(name, 0):
            attrs.append("constraint=false")  # an optional dependency on a later phase
        lines.append("  %s -> %s%s;" % (dep, name, " [%s]" % ", ".join(attrs) if attrs else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"
