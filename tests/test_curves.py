"""Reading a learning curve: the window the report's plateau test and the sweep's score share."""
import math

import numpy as np
import pytest

from mcnbench.metrics.curves import PLATEAU_GAIN, TAIL, tail_gain, tail_mean

STEPS = [0, 20, 40, 60, 80, 100]
CURVE = [0.0, 10.0, 20.0, 24.0, 24.5, 24.6]


def test_tail_gain_is_the_gain_over_the_last_fifth_of_the_steps():
    assert TAIL == 0.2 and PLATEAU_GAIN == 0.5
    assert tail_gain(STEPS, CURVE) == pytest.approx(24.6 - 24.5)            # 0.8 · 100 = step 80
    assert tail_gain(STEPS, CURVE, tail=0.5) == pytest.approx(24.6 - 20.0)  # last step ≤ 50 is 40
    assert tail_gain([0, 80, 100], [0.0, 30.0, 25.0]) == pytest.approx(-5.0)  # a peak, a fall: no gain
    assert math.isnan(tail_gain([5], [1.0]))


def test_tail_gain_reads_steps_in_any_order_and_skips_missing_values():
    order = [5, 0, 3, 1, 4, 2]
    assert tail_gain([STEPS[i] for i in order], [CURVE[i] for i in order]) == pytest.approx(0.1)
    # step 80 unmeasured: the window starts at the last measured step before it, 60
    assert tail_gain(STEPS, [0.0, 10.0, 20.0, 24.0, np.nan, 24.6]) == pytest.approx(0.6)
    # no step early enough (a curve logged from 90 on): the first point
    assert tail_gain([90, 100], [1.0, 2.0]) == pytest.approx(1.0)


def test_tail_mean_averages_the_window_and_counts_it():
    assert tail_mean(STEPS, CURVE) == (pytest.approx((24.5 + 24.6) / 2), 2)   # steps 80, 100
    assert tail_mean(STEPS, CURVE, tail=1.0) == (pytest.approx(np.mean(CURVE)), 6)
    assert tail_mean(STEPS, CURVE, tail=0.01) == (24.6, 1)                  # at least the last point
    score, n = tail_mean([], [])
    assert math.isnan(score) and n == 0


def test_a_curve_is_one_dimensional_and_of_one_length():
    with pytest.raises(ValueError, match="one length"):
        tail_gain([0, 1], [1.0])
