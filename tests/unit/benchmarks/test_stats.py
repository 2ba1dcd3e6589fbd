"""benchmarks/parts/stats.py: medians, paired ratios, PASS/MISS and the linearity check of cost growth."""

import pytest

from parts import stats


def test_median_of_odd_and_even_counts_ignores_non_numbers():
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([1.0, None, "error: x", 5.0, 3.0]) == 3.0
    assert stats.median([]) is None
    assert stats.median([True, None]) is None


def test_paired_ratios_pair_repetitions_and_skip_unusable_pairs():
    assert stats.paired_ratios([10.0, 12.0, 9.0], [1.0, 2.0, 3.0]) == [10.0, 6.0, 3.0]
    assert stats.paired_ratios([10.0, 5.0, None], [0.0, 2.0, 1.0]) == [2.5]
    # The median of the pairs, not the ratio of the medians: these differ.
    assert stats.ratio([10.0, 2.0, 9.0], [1.0, 1.0, 3.0]) == 3.0
    assert stats.median([10.0, 2.0, 9.0]) / stats.median([1.0, 1.0, 3.0]) == 9.0
    assert stats.ratio([], []) is None


@pytest.mark.parametrize("value,target,expected", [
    (59.9, ("<", 60.0), "PASS"), (60.0, ("<", 60.0), "MISS"), (60.0, ("<=", 60.0), "PASS"),
    (10.0, (">=", 10.0), "PASS"), (9.99, (">=", 10.0), "MISS"), (1.01, (">", 1.0), "PASS"),
    (0, ("==", 0), "PASS"), (1, ("==", 0), "MISS"),
    (None, ("<", 1.0), "n/a"), (3.0, None, "n/a"), ("error", ("<", 1.0), "n/a"),
])
def test_status_against_target(value, target, expected):
    assert stats.status(value, target) == expected


def test_linear_fit_recovers_a_line():
    slope, intercept, r_squared = stats.linear_fit([22, 44, 88], [9.0 + 0.08 * x for x in (22, 44, 88)])
    assert slope == pytest.approx(0.08)
    assert intercept == pytest.approx(9.0)
    assert r_squared == pytest.approx(1.0)
    with pytest.raises(ValueError):
        stats.linear_fit([1, 1], [2, 3])


def test_growth_linear_with_noise():
    got = stats.growth([(22, 9.4), (44, 11.3), (88, 15.0)])
    assert got["linear"] is True
    assert got["per_service"] == pytest.approx(0.0853, abs=1e-3)
    assert got["segments"] == [pytest.approx(1.9 / 22), pytest.approx(3.7 / 44)]


def test_growth_quadratic_is_not_linear():
    # cost 5 + 0.002 n^2: the segment 44 -> 88 is three times as steep as 22 -> 44
    points = [(n, 5 + 0.002 * n * n) for n in (22, 44, 88)]
    assert stats.growth(points)["linear"] is False


def test_growth_flat_is_linear_and_needs_three_sizes():
    assert stats.growth([(22, 9.0), (44, 8.9), (88, 9.0)])["linear"] is True
    with pytest.raises(ValueError):
        stats.growth([(22, 1.0), (44, 2.0)])


def test_growth_sorts_the_points():
    assert stats.growth([(88, 15.0), (22, 9.4), (44, 11.3)]) == stats.growth([(22, 9.4), (44, 11.3), (88, 15.0)])
