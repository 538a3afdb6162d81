"""Key-driver importance by relative weights (Johnson 2000) with bootstrap intervals
(shared/METRICS.md, "Key-metric links"; docs/metrics.md, "Drivers").

Relative weights split the R² of the NPS answer regressed on the attribute ratings into one share per
attribute, even when the attributes are correlated with one another (where regression coefficients
and plain correlations mislead). They need each response's full vector of ratings, which no rollup
holds, so they are estimated on a reproducible sample of the responses that rated every attribute and
answered NPS; its size is reported beside the weights.

Significance follows Tonidandel, LeBreton & Johnson (2009): a random variable is added to the
predictors, and an attribute is significant when the 95 % bootstrap interval of its weight minus the
random variable's weight excludes zero. (A relative weight is never negative, so its own interval
includes zero only when it is degenerate; the difference is the test that can fail.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db.models import BigIntegerField, F, OuterRef, Q, Subquery
from django.db.models.functions import Mod

from core.definitions import CONFIDENCE_LEVEL, DRIVER_BOOTSTRAP_RESAMPLES, DRIVER_SAMPLE_MAX, DRIVER_SEED
from surveys.models import AttributeScore, Response

from .facts import ATTRIBUTES
from .filters import MetricFilters
from .read import kept_until_refresh, shared
from .survey import attribute_counts

# Responses are sampled by a fixed pseudo-random permutation of their ids: the same filters give the
# same sample on every page, API call and export. SAMPLE_PRIME is prime, so the residues spread evenly.
SAMPLE_PRIME = 10_007
SAMPLE_MULTIPLIER = 7_919


def relative_weights_from_corr(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Johnson's raw relative weights from correlation matrices (..., p + 1, p + 1) of the predictors
    and, last, the outcome; with each model's R² (the sum of its weights).

    The predictors' correlation matrix R = V Λ Vᵀ gives the orthogonal variables Z closest to them
    (least squares); Λ* = V Λ^½ Vᵀ are the correlations between the predictors and Z, β = Λ*⁻¹ r_xy
    the standardised coefficients of y on Z, and ε_j = Σ_k Λ*_jk² β_k²."""
    rxx, rxy = corr[..., :-1, :-1], corr[..., :-1, -1]
    if not np.all(np.isfinite(corr)):
        raise np.linalg.LinAlgError("a rating or the NPS answer is constant")
    values, vectors = np.linalg.eigh(rxx)
    if np.any(values <= 1e-12):
        raise np.linalg.LinAlgError("the attribute ratings are collinear")
    lam = vectors @ (np.sqrt(values)[..., :, None] * np.swapaxes(vectors, -1, -2))
    beta = np.linalg.solve(lam, rxy[..., None])[..., 0]
    weights = np.einsum("...jk,...k->...j", lam**2, beta**2)
    return weights, weights.sum(axis=-1)


def resampled_corr(data: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The correlation matrix of the columns of ``data`` (n × k) in each resample, a row of ``counts``
    (B × n: how many times each row is drawn), from the resamples' sums of products in two matrix
    products rather than B copies of the data."""
    n, k = data.shape
    centred = data - data.mean(axis=0)  # centring first keeps the sums of squares accurate
    totals = counts.sum(axis=1)[:, None]
    means = counts @ centred / totals
    upper = np.triu_indices(k)
    sums = counts @ (centred[:, upper[0]] * centred[:, upper[1]])  # each product once, not twice
    products = np.empty((len(counts), k, k))
    products[:, upper[0], upper[1]] = sums
    products[:, upper[1], upper[0]] = sums
    cov = products / totals[:, :, None] - means[:, :, None] * means[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return cov / (sd[:, :, None] * sd[:, None, :])


def relative_weights(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Relative weights of the columns of ``x`` (one row per response) on ``y``, and R²."""
    weights, r2 = relative_weights_from_corr(np.corrcoef(np.column_stack([x, y]), rowvar=False))
    return weights, float(r2)


@dataclass(frozen=True)
class Driver:
    attribute: str
    weight: float  # raw relative weight (a share of the NPS answer's variance)
    weight_pct: float  # % of R²
    lower_pct: float  # 95 % bootstrap interval of weight_pct (percentile)
    upper_pct: float
    significant: bool  # weight above the random variable's (its interval of the difference excludes 0)
    above_random_lower: float
    above_random_upper: float


@dataclass(frozen=True)
class RelativeWeights:
    drivers: list[Driver] = field(default_factory=list)
    r_squared: float | None = None
    n: int = 0  # responses in the sample the weights are estimated on
    eligible: int = 0  # responses of the period with an NPS answer and an attribute rating (rollup count)
    resamples: int = 0
    seconds: float = 0.0
    reason: str = ""  # why there are no weights: "too_few" or "collinear"

    def by_attribute(self) -> dict[str, Driver]:
        return {d.attribute: d for d in self.drivers}


def estimate(
    frame: pd.DataFrame, *, resamples: int = DRIVER_BOOTSTRAP_RESAMPLES, seed: int = DRIVER_SEED
) -> RelativeWeights:
    """The relative weights of the attribute columns of ``frame`` on its "nps" column, with percentile
    bootstrap intervals (``resamples`` resamples of the rows) and the random-variable significance test."""
    attributes = [c for c in frame.columns if c != "nps"]
    n = len(frame)
    if not attributes or n < len(attributes) + 3:
        return RelativeWeights(n=n, reason="too_few")
    rng = np.random.default_rng(seed)
    # The predictors, a random variable (the significance test's yardstick), the NPS answer last.
    data = np.column_stack([frame[attributes].to_numpy(dtype=float), rng.standard_normal(n), frame["nps"]])
    without_noise = [*range(len(attributes)), len(attributes) + 1]
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column: caught just below
        corr = np.corrcoef(data, rowvar=False)
    try:
        weights, r2 = relative_weights_from_corr(corr[np.ix_(without_noise, without_noise)])
    except np.linalg.LinAlgError:
        return RelativeWeights(n=n, reason="collinear")
    if not r2 > 0:
        return RelativeWeights(n=n, reason="collinear")
    draws = rng.integers(0, n, (resamples, n)) + n * np.arange(resamples)[:, None]
    counts = np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)
    resampled = resampled_corr(data, counts)
    # A resample that drew a constant column has no weights; it is left out.
    usable = np.isfinite(resampled).all(axis=(1, 2)) & (
        np.linalg.eigvalsh(np.nan_to_num(resampled[:, :-1, :-1])).min(axis=1) > 1e-12
    )
    resampled = resampled[usable]
    if len(resampled) < 2:
        return RelativeWeights(n=n, reason="too_few")
    w, total = relative_weights_from_corr(resampled[:, without_noise][:, :, without_noise])
    shares = 100.0 * w / total[:, None]
    wn, _ = relative_weights_from_corr(resampled)
    above = wn[:, : len(attributes)] - wn[:, [len(attributes)]]
    tail = 100.0 * (1 - CONFIDENCE_LEVEL) / 2
    low, high = np.percentile(shares, [tail, 100 - tail], axis=0)
    above_low, above_high = np.percentile(above, [tail, 100 - tail], axis=0)
    drivers = [
        Driver(
            attribute=a,
            weight=float(weights[i]),
            weight_pct=float(100.0 * weights[i] / r2),
            lower_pct=float(low[i]),
            upper_pct=float(high[i]),
            significant=bool(above_low[i] > 0),
            above_random_lower=float(above_low[i]),
            above_random_upper=float(above_high[i]),
        )
        for i, a in enumerate(attributes)
    ]
    return RelativeWeights(drivers=drivers, r_squared=float(r2), n=n, resamples=int(usable.sum()))


def response_vectors(*, filters: MetricFilters, eligible: int, limit: int = DRIVER_SAMPLE_MAX) -> pd.DataFrame:
    """One row per sampled response that answered NPS and rated every attribute asked in the period:
    its ratings (a column per attribute) and its NPS answer. One query, only the needed columns; when
    more than ``limit`` responses are eligible a fixed share of them is read (by a permutation of their
    ids) and the rows above ``limit`` are dropped at random under a fixed seed."""
    filters = filters.resolved()
    start, end = filters.period()
    rows = AttributeScore.objects.filter(
        ATTRIBUTES.where(filters, False), submitted_at__gte=start, submitted_at__lt=end
    )
    if eligible > limit:
        # A margin over the exact share, as complete vectors are fewer than ratings with an NPS answer.
        threshold = min(SAMPLE_PRIME, int(SAMPLE_PRIME * 1.25 * limit / eligible) + 1)
        rows = rows.alias(
            bucket=Mod(F("response_id") * SAMPLE_MULTIPLIER, SAMPLE_PRIME, output_field=BigIntegerField())
        ).filter(Q(bucket__lt=threshold))
    # Each sampled rating's NPS answer by the response's key (an index lookup per rating): a join makes
    # PostgreSQL scan every response, and a list of the sampled keys costs more to send than to look up.
    answer = Response.objects.filter(pk=OuterRef("response_id")).values("nps")
    data = pd.DataFrame(
        list(rows.annotate(nps=Subquery(answer)).values_list("response_id", "attribute", "score", "nps").order_by()),
        columns=["response", "attribute", "score", "nps"],
    )
    data = data[data["nps"].notna()]
    if data.empty:
        return pd.DataFrame(columns=["nps"])
    nps = data.drop_duplicates("response").set_index("response")["nps"].astype(float)
    # (response, attribute) is unique, so a plain pivot (no aggregation) makes the vectors.
    wide = data.pivot(index="response", columns="attribute", values="score")  # noqa: PD010
    wide = wide.dropna().join(nps, how="inner").sort_index()
    if len(wide) > limit:
        wide = wide.sample(n=limit, random_state=DRIVER_SEED).sort_index()
    wide.columns.name = None
    return wide.reset_index(drop=True)


@shared
def driver_relative_weights(*, filters: MetricFilters) -> RelativeWeights:
    """Relative weights of the attribute ratings on the NPS answer in the period, with their intervals
    and the size of the sample they are estimated on. Kept per read-model refresh: the same filters get
    the stored result until the next refresh that changes a rollup, as re-estimating costs far more than the
    rest of the Surveys page; the answers of the minute since then wait for it, as in a rollup."""
    return kept_until_refresh("driver-weights", filters, lambda: _estimated(filters))


def _estimated(filters: MetricFilters) -> RelativeWeights:
    began = time.perf_counter()
    counts: dict[str, int] = {}
    for row in attribute_counts(filters=filters):
        if row["nps"] is not None:
            counts[row["attribute"]] = counts.get(row["attribute"], 0) + row["n"]
    eligible = max(counts.values(), default=0)
    if eligible == 0:
        return RelativeWeights(reason="too_few")
    frame = response_vectors(filters=filters, eligible=eligible)
    result = estimate(frame)
    return RelativeWeights(
        drivers=result.drivers,
        r_squared=result.r_squared,
        n=result.n,
        eligible=eligible,
        resamples=result.resamples,
        seconds=time.perf_counter() - began,
        reason=result.reason,
    )
