"""Every threshold, scale and window of the metric definitions (shared/METRICS.md), and nowhere else.

The models (score columns and their check constraints), the survey forms, the imports and the read
model all take them from here, so a definition cannot drift between the page, the API, a CSV and the
database.
"""

from __future__ import annotations

from datetime import date

# The scale of every scored question kind; it never changes once a survey has answers.
SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),  # "How likely are you to recommend…"
    "csat": (1, 5),
    "ces": (1, 7),  # agreement with "The company made it easy for me to handle my issue"
    "likelihood_switch": (0, 10),
    "likelihood_repurchase": (0, 10),
    "overall": (1, 5),
    "attribute": (1, 5),
    "trust": (1, 5),  # "How much do you trust us…": a component of the Customer Advocacy Index
}
# The questions stored in a column of their own on each response (attribute ratings have their table).
SCORE_QUESTIONS: tuple[str, ...] = (
    "nps",
    "csat",
    "ces",
    "likelihood_switch",
    "likelihood_repurchase",
    "overall",
    "trust",
)

# NPS: promoters 9-10, passives 7-8, detractors 0-6.
PROMOTER_MIN = 9
PASSIVE_MIN = 7
CATEGORIES: tuple[str, ...] = ("promoter", "passive", "detractor")
NO_RESPONSE = "no_response"

# The share of "good" answers each score metric reports beside its mean.
CSAT_SATISFIED_MIN = 4  # CSAT % = answers 4-5
CES_EASY_MIN = 5  # % easy = answers 5-7
SWITCH_AT_RISK_MIN = 7  # % at risk = answers 7-10
REPURCHASE_LIKELY_MIN = 9  # % likely = answers 9-10
# Key-metric links: overall experience against each of these.
LINKED_QUESTIONS: tuple[str, ...] = ("nps", "likelihood_switch", "likelihood_repurchase")

# 95 % confidence: the NPS margin of error and the significance of a change.
Z_95 = 1.96

# A customer's NPS category at t comes from their latest answer in the 365 days before t.
CATEGORY_WINDOW_DAYS = 365
# A survey's personal links expire this many days after sending unless the survey says otherwise.
LINK_VALID_DAYS = 365
# A referral converts when the referred party is acquired within 90 days of it.
REFERRAL_CONVERSION_DAYS = 90
# "Lost after an incident": a detractor answer, or an answer reporting an incident, in the 90 days before.
INCIDENT_WINDOW_DAYS = 90
INCIDENT_CSAT_MAX = 2
INCIDENT_CES_MAX = 3
# A comment's sentiment from the respondent's own score where there is one: an NPS promoter, a satisfied
# CSAT (4-5) or an easy CES (5-7) is positive; an NPS passive, a CSAT of 3 or a CES of 4 neutral; the rest
# negative. Labelled review comments (ratings on the CSAT scale, 1-5) are read the same way.
CSAT_NEUTRAL = 3
CES_NEUTRAL = 4
# Operational events from the CRM/ERP beside new/lost/referral/moves; the first three are incidents and
# count in "lost after an incident" beside a logged complaint and a survey-reported incident.
OPERATIONAL_EVENT_TYPES: tuple[str, ...] = (
    "return",
    "claim",
    "invoice_correction",
    "service_change",
    "support_contact",
)
INCIDENT_EVENT_TYPES: tuple[str, ...] = ("return", "claim", "invoice_correction")
# Complaint rate = complaints in the period per this many customers active at its start; "incidents and
# satisfaction" splits answers by an incident (a complaint or an operational incident event) in the
# INCIDENT_WINDOW_DAYS before the answer.
COMPLAINT_RATE_PER = 1000
# Closing the loop: a detractor answer's loop is closed when its case is closed "contacted" within 7 days;
# the loop outcome compares churn within 180 days of the answer, and needs 30 answers in each group.
LOOP_CONTACT_DAYS = 7
LOOP_OUTCOME_CHURN_DAYS = 180
LOOP_OUTCOME_MIN_GROUP = 30
# Churn risk: P(lost within 365 days) from features known at a cutoff; the model is tested out of time on
# the last cutoff, trained on cutoffs at least 365 days before it, and not shown below 50 losses.
CHURN_RISK_HORIZON_DAYS = 365
CHURN_RISK_MIN_LOSSES = 50
# The model learns from monthly cutoffs (at most this many, the newest); its out-of-time AUC below the weak
# mark is labelled weak on the page. A relationship signal: the latest NPS answer this many points below
# the one before, a downgrade in the downgrade window, or an incident in INCIDENT_WINDOW_DAYS.
CHURN_RISK_MAX_TRAINING_CUTOFFS = 36
CHURN_RISK_WEAK_AUC = 0.6
CHURN_RISK_NPS_DROP = 3
CHURN_RISK_DOWNGRADE_DAYS = 365
# The customer list's risk bands: high from 30 % risk of leaving within the horizon, medium from 10 %,
# low below (a base losing about a tenth of its customers a year puts its average customer at the
# medium mark).
CHURN_RISK_HIGH_MIN = 0.30
CHURN_RISK_MEDIUM_MIN = 0.10
CHURN_RISK_BANDS: tuple[str, ...] = ("high", "medium", "low")
# Customer Advocacy Index: a response counts with at least two of its components answered.
ADVOCACY_MIN_COMPONENTS = 2
# Its components, each answer mapped to 0-100 as 100 × (x − low) / (high − low) on its scale: NPS × 10,
# CSAT and trust (x − 1) × 25.
ADVOCACY_COMPONENTS: tuple[str, ...] = ("nps", "csat", "trust")
# Customer lifetime value: the churn rate behind the expected lifetime is measured over the 365 days to
# the period's end, and the lifetime it gives (1 / annual churn) is capped at 10 years.
CLV_CHURN_WINDOW_DAYS = 365
CLV_LIFETIME_CAP_YEARS = 10
# Retention curves by NPS category: the retention read off each curve at these days after the answer,
# with its 95 % confidence interval (Greenwood's variance).
RETENTION_DAYS: tuple[int, ...] = (90, 180, 365)
CONFIDENCE_LEVEL = 0.95

# Plausible dates. Nothing the product counts happened before 1970: a year-1 date in a CRM or an import is
# a typing error, and would stretch every day-by-day rebuild over two thousand years. An event or an
# answer is dated at most tomorrow (site time), which leaves room for a source a time zone ahead of the
# site's. A period asked for may end up to a year ahead (this quarter, this year, planned in advance).
EARLIEST_DAY = date(1970, 1, 1)
EVENT_DAYS_AHEAD = 1
PERIOD_DAYS_AHEAD = 366

# Satmetrix response-rate benchmarks quoted in METRICS.md, by (audience, survey type), in %.
RESPONSE_RATE_BENCHMARKS: dict[tuple[str, str], float] = {
    ("b2b", "relational"): 32.0,
    ("b2b", "transactional"): 23.0,
    ("b2c", "relational"): 13.0,
    ("b2c", "transactional"): 16.0,
}


def scale_text(question: str) -> str:
    """A scale as shown to people: "0-10"."""
    return "{}-{}".format(*SCALES[question])


def nps_category(score: int | None) -> str:
    """promoter, passive or detractor for an NPS answer; no_response without one."""
    if score is None:
        return NO_RESPONSE
    if score >= PROMOTER_MIN:
        return "promoter"
    return "passive" if score >= PASSIVE_MIN else "detractor"


def nps_scores(category: str) -> range:
    """The NPS answers of a category."""
    low, high = SCALES["nps"]
    return {
        "promoter": range(PROMOTER_MIN, high + 1),
        "passive": range(PASSIVE_MIN, PROMOTER_MIN),
        "detractor": range(low, PASSIVE_MIN),
    }[category]


def churn_risk_band(probability: float | None) -> str | None:
    """high, medium or low for a churn risk (0-1); None without one."""
    if probability is None:
        return None
    if probability >= CHURN_RISK_HIGH_MIN:
        return "high"
    return "medium" if probability >= CHURN_RISK_MEDIUM_MIN else "low"


def churn_risk_range(band: str) -> tuple[float | None, float | None]:
    """The risks of a band as [low, high): None where it is open."""
    return {
        "high": (CHURN_RISK_HIGH_MIN, None),
        "medium": (CHURN_RISK_MEDIUM_MIN, CHURN_RISK_HIGH_MIN),
        "low": (None, CHURN_RISK_MEDIUM_MIN),
    }[band]


# Alert rules: at most this many single alert emails per owner per hour; the rest go into one summary.
# The beat sweep fires rules only on answers submitted within the last ALERT_SWEEP_MAX_AGE_HOURS (a late
# or first sweep over old answers marks them looked at without alerting; `alerts_evaluate` can fire them).
ALERT_OWNER_EMAILS_PER_HOUR = 10
ALERT_SWEEP_MAX_AGE_HOURS = 72

# Key drivers by relative weights: estimated on a reproducible sample of at most this many responses
# that rated every attribute and answered NPS, with this many bootstrap resamples for the 95 % intervals.
DRIVER_SAMPLE_MAX = 10_000
DRIVER_BOOTSTRAP_RESAMPLES = 500
DRIVER_SEED = 20
