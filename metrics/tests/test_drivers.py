"""Key-driver relative weights (metrics.drivers) against hand-computed examples."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics import drivers
from metrics.filters import MetricFilters
from metrics.tests.factories import AttributeScoreFactory, ResponseFactory, at

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))

# Two uncorrelated ratings and an NPS answer that is exactly 4 × a + 2 × b − 6: R² = 1. Centred, a is
# (−½, ½, −½, ½), b is (−½, −½, ½, ½), y is (−3, 1, −1, 3); r(a, y)² = 4² / (1 × 20) = 0.8 and
# r(b, y)² = 2² / (1 × 20) = 0.2. With uncorrelated predictors each relative weight is its r².
ORTHOGONAL = [(1, 1, 0), (2, 1, 4), (1, 2, 2), (2, 2, 6)]


def two_predictor_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Johnson's weights for two predictors written out: their correlation r has eigenvectors
    (1, 1)/√2 and (1, −1)/√2 with eigenvalues 1 ± r, so Λ* = [[p, q], [q, p]] with
    p = (√(1 + r) + √(1 − r)) / 2 and q = (√(1 + r) − √(1 − r)) / 2."""
    r = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    ry = np.array([np.corrcoef(x[:, j], y)[0, 1] for j in (0, 1)])
    p, q = (np.sqrt(1 + r) + np.sqrt(1 - r)) / 2, (np.sqrt(1 + r) - np.sqrt(1 - r)) / 2
    det = p * p - q * q
    beta = np.array([p * ry[0] - q * ry[1], p * ry[1] - q * ry[0]]) / det
    return np.array([p * p * beta[0] ** 2 + q * q * beta[1] ** 2, q * q * beta[0] ** 2 + p * p * beta[1] ** 2])


def ols_r_squared(x: np.ndarray, y: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return 1 - ((y - design @ coef) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def test_uncorrelated_ratings_weigh_their_squared_correlation():
    data = np.array(ORTHOGONAL, dtype=float)
    weights, r2 = drivers.relative_weights(data[:, :2], data[:, 2])
    assert weights == pytest.approx([0.8, 0.2])
    assert r2 == pytest.approx(1.0)


def test_correlated_ratings_match_the_written_out_weights_and_sum_to_r_squared():
    data = np.array([(1, 2, 2), (2, 1, 4), (3, 3, 5), (4, 5, 9), (5, 4, 8), (2, 2, 3), (4, 3, 7), (5, 5, 10)], float)
    x, y = data[:, :2], data[:, 2]
    weights, r2 = drivers.relative_weights(x, y)
    assert weights == pytest.approx(two_predictor_weights(x, y))
    assert r2 == pytest.approx(ols_r_squared(x, y))
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.5  # the case where plain correlations double-count


def test_resampled_correlation_equals_the_correlation_of_the_repeated_rows():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(30, 3))
    counts = rng.integers(0, 3, (2, 30)).astype(float)
    found = drivers.resampled_corr(data, counts)
    for row, expected in zip(counts, found, strict=True):
        repeated = np.repeat(data, row.astype(int), axis=0)
        assert expected == pytest.approx(np.corrcoef(repeated, rowvar=False))


def test_a_rating_unrelated_to_nps_is_not_significant():
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({"quality": rng.integers(1, 6, n), "parking": rng.integers(1, 6, n)})
    frame["nps"] = (2 * frame["quality"] + rng.integers(-2, 3, n)).clip(0, 10)
    result = drivers.estimate(frame, resamples=300)
    found = result.by_attribute()
    assert found["quality"].significant and not found["parking"].significant
    assert found["quality"].lower_pct < found["quality"].weight_pct < found["quality"].upper_pct
    assert sum(d.weight_pct for d in result.drivers) == pytest.approx(100.0)
    assert result.n == n and result.resamples == 300
    assert drivers.estimate(frame, resamples=300) == result  # the same seed, the same intervals


def test_too_few_and_collinear_say_why():
    assert drivers.estimate(pd.DataFrame({"a": [1, 2], "nps": [3, 4]})).reason == "too_few"
    same = pd.DataFrame({"a": [1, 2, 3, 4, 5, 1], "b": [1, 2, 3, 4, 5, 1], "nps": [0, 3, 5, 8, 10, 1]})
    assert drivers.estimate(same).reason == "collinear"


@pytest.mark.django_db
def test_weights_from_the_responses_of_the_period():
    for a, b, nps in ORTHOGONAL * 2:
        response = ResponseFactory(submitted_at=at("2026-01-10"), nps=nps)
        AttributeScoreFactory(response=response, attribute="delivery", score=a)
        AttributeScoreFactory(response=response, attribute="support", score=b)
    partial = ResponseFactory(submitted_at=at("2026-01-11"), nps=9)  # one attribute only: not a full vector
    AttributeScoreFactory(response=partial, attribute="delivery", score=5)
    unanswered = ResponseFactory(submitted_at=at("2026-01-11"), nps=None)
    AttributeScoreFactory(response=unanswered, attribute="support", score=1)
    later = ResponseFactory(submitted_at=at("2026-02-01"), nps=0)  # outside the period
    AttributeScoreFactory(response=later, attribute="delivery", score=5)
    AttributeScoreFactory(response=later, attribute="support", score=5)

    result = drivers.driver_relative_weights(filters=JANUARY)

    found = result.by_attribute()
    assert found["delivery"].weight_pct == pytest.approx(80.0)
    assert found["support"].weight_pct == pytest.approx(20.0)
    assert result.r_squared == pytest.approx(1.0)
    assert (result.n, result.eligible) == (8, 9)


@pytest.mark.django_db
def test_a_large_period_is_read_as_a_reproducible_sample_of_at_most_the_limit():
    for i in range(40):
        response = ResponseFactory(submitted_at=at("2026-01-10"), nps=i % 11)
        AttributeScoreFactory(response=response, attribute="delivery", score=1 + i % 5)
        AttributeScoreFactory(response=response, attribute="support", score=1 + (i // 5) % 5)

    first = drivers.response_vectors(filters=JANUARY, eligible=40, limit=10)
    again = drivers.response_vectors(filters=JANUARY, eligible=40, limit=10)

    assert 0 < len(first) <= 10
    assert list(first.columns) == ["delivery", "support", "nps"]
    pd.testing.assert_frame_equal(first, again)
    assert len(drivers.response_vectors(filters=JANUARY, eligible=40)) == 40


@pytest.mark.django_db
@pytest.mark.refreshes_itself
def test_the_weights_are_kept_until_the_next_read_model_refresh(monkeypatch):
    from metrics.refresh import metrics_refresh

    def answer(a, b, nps):
        response = ResponseFactory(submitted_at=at("2026-01-10"), nps=nps)
        AttributeScoreFactory(response=response, attribute="delivery", score=a)
        AttributeScoreFactory(response=response, attribute="support", score=b)

    for row in ORTHOGONAL * 2:
        answer(*row)
    metrics_refresh()
    first = drivers.driver_relative_weights(filters=JANUARY)
    assert first.n == 8
    for row in ORTHOGONAL:
        answer(*row)

    assert drivers.driver_relative_weights(filters=JANUARY).n == 8  # the stored estimate, same refresh
    metrics_refresh()
    again = drivers.driver_relative_weights(filters=JANUARY)
    assert again.n == 12
    # A refresh with nothing new keeps the stored estimate: a quiet minute costs no re-estimate.
    estimated = []
    real = drivers._estimated
    monkeypatch.setattr(drivers, "_estimated", lambda filters: estimated.append(filters) or real(filters))
    metrics_refresh()
    assert drivers.driver_relative_weights(filters=JANUARY).n == 12
    assert estimated == []
    assert again.by_attribute()["delivery"].weight_pct == pytest.approx(80.0)
