# -*- coding: utf-8 -*-
# Copyright: alicia.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployment order of a resolved catalogue: dependency cycles, the order
itself (phase by phase, dependencies first) and the entries of one phase.

Private: import the public names from module_utils/catalogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import heapq

from ansible_collections.alicia.platform.plugins.module_utils._catalogue_base import (
    CatalogueError,
    fmt,
    is_int,
    require_catalogue,
    unique,
)


def rank(entry, phases=None):
    """Phase rank of a resolved entry; unknown phases sort last."""
    if phases is not None:
        phase = entry.get("phase")
        return list(phases).index(phase) if phase in phases else len(phases)
    index = entry.get("phase_index", -1)
    return index if is_int(index) and index >= 0 else 1000


def _edges(catalogue, phases=None):
    """Ordering edges: name -> [dependencies that must come first].

    Every dependency that is in the catalogue counts, except an optional one
    on a later phase (a service may use a later service when it is there).
    """
    edges = {}
    for name, entry in catalogue.items():
        deps = []
        depends = entry.get("depends_on") if isinstance(entry, dict) else None
        for dep, spec in (depends or {}).items() if isinstance(depends, dict) else []:
            if dep not in catalogue or not isinstance(catalogue[dep], dict):
                continue
            dep_type = spec.get("type", "required") if isinstance(spec, dict) else "required"
            if dep_type == "optional" and rank(catalogue[dep], phases) > rank(entry, phases):
                continue
            deps.append(dep)
        edges[name] = deps
    return edges


def find_cycles(catalogue, phases=None):
    """Return the dependency cycles, each as a list of names [a, b, ..., a].

    One cycle per strongly connected component, starting at the member that
    comes first in the catalogue, so the output is stable.
    """
    edges = _edges(catalogue, phases)
    position = dict((name, i) for i, name in enumerate(catalogue))
    # Tarjan's strongly connected components, iteratively.
    index = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = [0]
    for root in catalogue:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter[0]
                counter[0] += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            deps = edges.get(node, [])
            while i < len(deps):
                dep = deps[i]
                i += 1
                if dep not in index:
                    work.append((node, i))
                    work.append((dep, 0))
                    recurse = True
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles = []
    for component in components:
        members = set(component)
        start = min(component, key=lambda n: position[n])
        # Depth-first walk inside the component back to the start.
        path = [start]
        seen = set([start])
        found = _walk_back(start, start, edges, members, path, seen)
        cycles.append(found)
    cycles.sort(key=lambda c: position[c[0]])
    return cycles


def _walk_back(start, node, edges, members, path, seen):
    for dep in edges.get(node, []):
        if dep not in members:
            continue
        if dep == start:
            return path + [start]
        if dep in seen:
            continue
        seen.add(dep)
        found = _walk_back(start, dep, edges, members, path + [dep], seen)
        if found:
            return found
    return None


def cycle_message(cycle):
    return fmt(cycle[0], "depends_on", "dependency cycle %s" % " -> ".join(cycle))


def order(catalogue):
    """Deployment order: phase by phase, dependencies first, catalogue order on ties.

    Raises CatalogueError on a dependency cycle.
    """
    require_catalogue(catalogue)
    entries = dict((n, e) for n, e in catalogue.items() if isinstance(e, dict))
    cycles = find_cycles(entries)
    if cycles:
        cycle = cycles[0]
        raise CatalogueError(cycle_message(cycle), service=cycle[0], field="depends_on")
    edges = _edges(entries)
    position = dict((name, i) for i, name in enumerate(entries))
    waiting = dict((name, len(set(deps))) for name, deps in edges.items())
    dependants = dict((name, []) for name in entries)
    for name, deps in edges.items():
        for dep in set(deps):
            dependants[dep].append(name)
    ready = [(rank(entries[n]), position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result = []
    while ready:
        _rank, _pos, name = heapq.heappop(ready)
        result.append(name)
        for other in dependants[name]:
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, (rank(entries[other]), position[other], other))
    return result


def phase_services(catalogue, phase, names_only=False):
    """The entries of one phase, in deployment order (names with names_only)."""
    require_catalogue(catalogue)
    known = unique([e.get("phase") for e in catalogue.values() if isinstance(e, dict)])
    if phase not in known:
        raise CatalogueError("catalogue: unknown phase %r (phases in the catalogue: %s)"
                             % (phase, ", ".join(str(p) for p in known)))
    names = [n for n in order(catalogue) if catalogue[n].get("phase") == phase]
    if names_only:
        return names
    return [catalogue[n] for n in names]
