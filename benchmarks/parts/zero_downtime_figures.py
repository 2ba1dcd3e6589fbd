"""Pure figures of the zero_downtime part, from the samples of its probe (parts/zero_downtime_probe.py).

No I/O here: tests/unit/benchmarks/test_zero_downtime.py covers every function with fixed samples.
Sample shapes (times are the lab host's wall clock, seconds):

  load:    [t, ok, latency_ms, version, error]
  watch:   [t, healthy, version]                    (one list per watched URL)
  haproxy: [t, {server: "<admin state>/<operational state>"}]   (a sample when something changed)
  history: [mtime, [[service, from, to, result, strategy, id, start], ...]]  (records new at that write)
"""

import math


def percentile(values, share=0.99):
    """The nearest-rank percentile of `values` (the smallest value with at least `share` of them at or
    below it); None when there is none."""
    numbers = sorted(value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool))
    if not numbers:
        return None
    rank = max(1, int(math.ceil(share * len(numbers))))
    return numbers[rank - 1]


def load_summary(samples):
    """Requests, failures, p99 latency (ms, nearest rank over every request), the versions that answered
    (in order of first answer) and the first distinct errors of a load stream."""
    failed = [sample for sample in samples if not sample[1]]
    versions, errors = [], []
    for sample in samples:
        if sample[1] and sample[3] not in versions:
            versions.append(sample[3])
        if not sample[1] and sample[4] not in errors and len(errors) < 5:
            errors.append(sample[4])
    return {"requests": len(samples), "ok": len(samples) - len(failed), "failed": len(failed),
            "p99_ms": percentile([sample[2] for sample in samples]), "versions": versions, "errors": errors}


def gate_failure(history, service, version):
    """When the gate failed `service`'s release `version`: the modification time of the history write that
    first holds its record with result "failed" (the health gate records its outcome in the same module
    execution that fails). None when no such write was seen."""
    for mtime, records in history:
        for record in records:
            if record[0] == service and str(record[2]) == str(version) and record[3] == "failed":
                return mtime
    return None


def history_results(history, service):
    """[(from, to, result), ...] of `service`'s records, in the order they were written."""
    return [(record[1], record[2], record[3]) for _mtime, records in history for record in records
            if record[0] == service]


def serving_version(samples):
    """The version of the first healthy answer (what served before the deployment); None without one."""
    for sample in samples:
        if sample[1]:
            return sample[2]
    return None


def first_serving(samples, after, version):
    """The time of the first healthy answer of `version` at or after `after`; None when none came."""
    for sample in samples:
        if sample[0] >= after and sample[1] and sample[2] == version:
            return sample[0]
    return None


def serving_for_good(samples, after, version):
    """The time of the first healthy answer of `version` at or after `after` from which every later answer
    is a healthy one of `version` (it served, and was not restarted again); None when the samples do not
    end that way."""
    found = None
    for sample in samples:
        if sample[0] < after:
            continue
        if sample[1] and sample[2] == version:
            if found is None:
                found = sample[0]
        else:
            found = None
    return found


def first_unhealthy(watch, after=None):
    """The watched name whose first answer that is not healthy (at or after `after`) comes first; None when
    every answer was healthy."""
    first = None
    for name, samples in sorted(watch.items()):
        for sample in samples:
            if (after is None or sample[0] >= after) and not sample[1]:
                if first is None or sample[0] < first[0]:
                    first = (sample[0], name)
                break
    return None if first is None else first[1]


def outages(samples):
    """The stretches without a healthy answer: [{"last_healthy", "first_healthy", "answers", "seconds"}]:
    the last healthy answer before the stretch and the first after it (None at either end of the samples),
    how many answers were not healthy, and first_healthy - last_healthy (None when an end is missing)."""
    found, current, last_healthy = [], None, None
    for sample in samples:
        if sample[1]:
            if current is not None:
                current["first_healthy"] = sample[0]
                found.append(current)
                current = None
            last_healthy = sample[0]
        elif current is None:
            current = {"last_healthy": last_healthy, "first_healthy": None, "answers": 1}
        else:
            current["answers"] += 1
    if current is not None:
        found.append(current)
    for outage in found:
        ends = (outage["last_healthy"], outage["first_healthy"])
        outage["seconds"] = None if None in ends else ends[1] - ends[0]
    return found


def longest_gap(samples):
    """The longest stretch without a healthy answer (seconds from the last healthy answer before it to the
    first after it); 0.0 when every answer was healthy; None when a stretch has no healthy answer on one
    side (it started before the samples or never ended)."""
    stretches = outages(samples)
    if not stretches:
        return 0.0
    if any(outage["seconds"] is None for outage in stretches):
        return None
    return max(outage["seconds"] for outage in stretches)


def total_outage(samples):
    """The seconds without a healthy answer: the sum of every stretch's (see outages); 0.0 when every answer
    was healthy; None when a stretch has no healthy answer on one side."""
    stretches = outages(samples)
    if any(outage["seconds"] is None for outage in stretches):
        return None
    return float(sum(outage["seconds"] for outage in stretches))


def _admin(state):
    return state.split("/", 1)[0]


def roll_window(haproxy):
    """The rolling update at the balancer: (first sample where a server left rotation, the sample where
    every server was back in rotation for the last time), a server being in rotation when its admin state
    is "ready". None when no server left rotation, or when not every server was back at the end."""
    start = end = None
    for t, servers in haproxy:
        if "error" in servers:
            continue
        every_ready = all(_admin(state) == "ready" for state in servers.values())
        if not every_ready and start is None:
            start = t
        if every_ready and start is not None:
            end = t
        elif not every_ready:
            end = None
    if start is None or end is None:
        return None
    return start, end


def back_in_rotation(haproxy, server, after):
    """The first sample at or after `after` where `server`'s admin state turns "ready" from out of rotation
    (its previous sample's); None when it did not come back after `after`."""
    out = False
    for t, servers in haproxy:
        state = servers.get(server)
        if state is None:
            continue
        if _admin(state) != "ready":
            out = True
        elif out:
            if t >= after:
                return t
            out = False
    return None


def since(start, end):
    """end - start, or None when either is missing."""
    if start is None or end is None:
        return None
    return end - start


def as_watch(load, version=None):
    """A load stream as watch samples [t, healthy, version]: healthy when the request succeeded (and, with
    `version`, answered by that version)."""
    return [[sample[0], bool(sample[1]) and (version is None or sample[3] == version), sample[3]]
            for sample in load]


def version_gap(load, version):
    """The longest stretch of a load stream without a healthy answer of `version`: from its last healthy
    answer before the stretch to its first after it (see longest_gap); 0.0 when it answered every request;
    None without a version, or when it never answered again (or had not answered before)."""
    if version is None:
        return None
    return longest_gap(as_watch(load, version))


def switch_seconds(log_text):
    """The slots module's own switch time(s) printed in a verbose (-v) run's output: every
    `switch_seconds` value of its result, in order ([] when the output has none)."""
    found = []
    for part in log_text.split("switch_seconds")[1:]:
        head = part.lstrip("\"' :").split(",", 1)[0].split("}", 1)[0].split()
        try:
            found.append(float(head[0]))
        except (IndexError, ValueError):
            continue
    return found
