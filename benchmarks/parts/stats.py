"""Pure figures: medians, paired ratios, linear growth, PASS/MISS against a target.

No I/O here: tests/unit/benchmarks/test_stats.py covers every function.
"""

import statistics

# A target is (operator, bound): the figure passes when `value <op> bound`.
OPERATORS = {
    "<": lambda value, bound: value < bound,
    "<=": lambda value, bound: value <= bound,
    ">": lambda value, bound: value > bound,
    ">=": lambda value, bound: value >= bound,
    "==": lambda value, bound: value == bound,
}


def median(values):
    """The median of the numbers in `values` (None when there is none)."""
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if not numbers:
        return None
    return statistics.median(numbers)


def paired_ratios(numerators, denominators):
    """Per-repetition ratios numerator[i] / denominator[i] of two contenders measured alternately in the same run.

    Pairs with a missing or zero denominator are left out."""
    ratios = []
    for top, bottom in zip(numerators, denominators):
        if isinstance(top, (int, float)) and isinstance(bottom, (int, float)) and bottom:
            ratios.append(top / bottom)
    return ratios


def ratio(numerators, denominators):
    """The median of the paired ratios (None when no pair is usable)."""
    return median(paired_ratios(numerators, denominators))


def status(value, target):
    """'PASS' or 'MISS' for a value against a target (operator, bound); 'n/a' without a value or a target."""
    if target is None or value is None or isinstance(value, str):
        return "n/a"
    operator, bound = target
    return "PASS" if OPERATORS[operator](value, bound) else "MISS"


def target_text(target):
    return "-" if target is None else "%s %s" % (target[0], _number(target[1]))


def _number(value):
    if isinstance(value, float):
        return ("%.3f" % value).rstrip("0").rstrip(".")
    return str(value)


def linear_fit(xs, ys):
    """Least-squares line through the points: (slope, intercept, r_squared)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("a line needs at least two points, as many xs as ys")
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if not sxx:
        raise ValueError("the xs must not all be equal")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    syy = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    r_squared = 1.0 if not syy else 1.0 - residual / syy
    return slope, intercept, r_squared


def growth(points, tolerance=1.5, floor=0.01):
    """Cost growth from [(services, seconds), ...] (at least three sizes).

    Returns the fitted seconds per added service (least squares), r^2, the
    slope of each segment between consecutive sizes, and whether growth is
    linear: no later segment costs more per service than `tolerance` times
    the first (or, when the first is flat or negative from noise, the
    fitted slope). A quadratic cost over 22 -> 44 -> 88 has a second segment
    exactly twice as steep as the first ((88 + 44) / (44 + 22)), a straight
    line the same one: 1.5 is between the two. Segments under `floor`
    seconds per service are flat whatever the ratio (noise)."""
    points = sorted(points)
    if len(points) < 3:
        raise ValueError("growth needs at least three sizes")
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    slope, _intercept, r_squared = linear_fit(xs, ys)
    segments = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    reference = segments[0] if segments[0] > 0 else max(slope, 0.0)
    linear = all(segment <= max(reference * tolerance, floor) for segment in segments[1:])
    return {"per_service": slope, "r_squared": r_squared, "segments": segments, "linear": bool(linear)}
