"""The benchmark's table (cxmetrics/management/commands/bench.py): each target row is judged from the runs it
needs, and says nothing when they are missing."""

import json

from cxmetrics.management.commands.bench import _keep_skipped, render_table, run_key


def _run(scale: float, history: float, ms: float, when: str, **extra) -> dict:
    pages = [
        {"page": page, "period": period, "filter": "no filter", "median_ms": ms * factor, "p95_ms": ms * factor * 1.2}
        for page, factor in (("overview", 1.0), ("api", 1.5))
        for period in ("last quarter", "all time")
    ]
    return {
        "scale": scale,
        "history": history,
        "key": run_key(scale, history),
        "when": when,
        "machine": "test",
        "command": "make bench",
        "total_seconds": 60,
        "dashboards": {"full_count_ms": 50.0, "pages": pages},
        **extra,
    }


def _row(table: str, start: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| {start}"))


def test_run_keys_keep_the_old_scale_keys():
    assert run_key(1) == "1.0" and run_key(5.0) == "5.0"
    assert run_key(1, 5) == "1.0 history 5.0"


def test_growth_in_customers_is_the_worst_page_of_the_two_runs():
    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC")
    bigger = _run(5.0, 1.0, 140.0, "2026-12-01 23:52 UTC")
    table = render_table(base, {"1.0": base, "5.0": bigger})
    row = _row(table, "every page from --scale 1 to --scale 5")
    assert "| ≤ 1.5 × | worst 1.40 ×" in row and row.endswith("| yes |")
    bigger["dashboards"]["pages"][3]["median_ms"] = 400.0  # one page past the bound is enough to miss
    row = _row(render_table(base, {"1.0": base, "5.0": bigger}), "every page from --scale 1 to --scale 5")
    assert "worst 2.67 × (api, all time" in row and row.endswith("| **no** |")
    assert "every page from" not in render_table(base, {"1.0": base})


def test_all_time_pages_are_held_to_400_ms_at_the_default_size_only():
    # A data set whose all-time pages miss the bound that holds at the default size.
    base = _run(1.0, 1.0, 300.0, "2026-12-02 07:00 UTC")
    assert _row(render_table(base, {"1.0": base}), "slowest page median, all time").endswith("| **no** |")
    longer = _run(1.0, 5.0, 300.0, "2026-12-02 08:00 UTC")
    assert "slowest page median" not in render_table(longer, {longer["key"]: longer})


def test_the_paired_figure_is_the_worst_page_against_the_earlier_version():
    paired = {
        "rounds": 5,
        "repeats": 3,
        "before": "4f14071 README",
        "pages": [
            {
                "page": "overview",
                "period": "last quarter",
                "filter": "no filter",
                "before_ms": 100.0,
                "after_ms": 120.0,
            },
            {"page": "api", "period": "all time", "filter": "segment=Key", "before_ms": 500.0, "after_ms": 250.0},
        ],
    }
    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC", paired=paired)
    table = render_table(base, {"1.0": base})
    row = _row(table, "every page and the API against `4f14071 README`")
    assert "worst 1.20 × (overview, last quarter, no filter: 100 → 120 ms)" in row and row.endswith("| yes |")
    assert "| api | all time | segment=Key | 500 | 250 | 0.50 |" in table


def test_a_reuse_run_keeps_the_phases_it_skipped(tmp_path):
    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC", seed_seconds=200)
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"1.0": base}))
    again = {"scale": 1.0, "history": 1.0, "key": "1.0", "when": "2026-12-02 09:00 UTC", "machine": "test",
             "command": "make bench", "total_seconds": 60}  # fmt: skip
    _keep_skipped(path, again)
    assert again["dashboards"] == base["dashboards"] and again["seed_seconds"] == 200
    assert again["kept_from"] == {"when": "2026-12-02 07:00 UTC", "phases": ["seed_seconds", "dashboards"]}


def test_admin_pages_are_held_to_one_second_by_their_slowest_median():
    pages = [{"page": "surveys.survey list", "median_ms": 120.0, "p95_ms": 150.0},
             {"page": "surveys.response list", "median_ms": 640.0, "p95_ms": 700.0}]  # fmt: skip
    run = _run(1.0, 1.0, 100.0, "2026-12-03 19:00 UTC", admin={"pages": pages})
    table = render_table(run, {"1.0": run})
    row = _row(table, "slowest admin list or change page median")
    assert "640 ms (surveys.response list; 2 pages)" in row and row.endswith("| yes |")
    assert "| surveys.survey list | 120 | 150 |" in table
    pages[0]["median_ms"] = 1001.0
    assert _row(render_table(run, {"1.0": run}), "slowest admin").endswith("| **no** |")


def test_churn_risk_training_and_scoring_are_judged_per_100_000_customers():
    churn = {"history_seconds": 12.0, "training_seconds": 88.5, "scoring_seconds": 11.8, "status": "complete",
             "auc": 0.7258, "train_rows": 1916477, "customers_scored": 67114, "current": True}  # fmt: skip
    base = _run(1.0, 1.0, 100.0, "2026-12-03 22:11 UTC", churn=churn)
    table = render_table(base, {"1.0": base})
    assert _row(table, "churn-risk training").endswith("| yes |") and "AUC 0.73" in table
    # 11.8 s for 67 114 customers is within 30 s per 100 000; 25 s would not be.
    assert _row(table, "churn-risk scoring").endswith("| yes |")
    slow = _run(1.0, 1.0, 100.0, "2026-12-03 22:11 UTC", churn={**churn, "scoring_seconds": 25.0})
    assert _row(render_table(slow, {"1.0": slow}), "churn-risk scoring").endswith("| **no** |")


def test_a_new_comment_is_judged_by_the_longest_wait_for_its_analysis():
    load = {"p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0, "seconds": 60, "requests": 9000, "accepted": 9000}
    answering = {
        "post": load,
        "get": {**load, "ok": 9000},
        "stored": 9000,
        "lost": 0,
        "doubled": 0,
        "responses_per_second": 150.0,
        "workers": 4,
        "connections": 16,
        "comments": {"comments": 9000, "analysed": 9000, "p50_seconds": 12.0, "p95_seconds": 31.0, "max_seconds": 58.4},
    }
    run = _run(1.0, 1.0, 100.0, "2026-12-04 09:00 UTC", answering=answering)
    row = _row(render_table(run, {"1.0": run}), "new comment analysed")
    assert "p50 12 s, p95 31 s, longest 58 s (9000 of 9000 comments analysed)" in row and row.endswith("| yes |")
    answering["comments"] |= {"max_seconds": 61.0}
    assert _row(render_table(run, {"1.0": run}), "new comment analysed").endswith("| **no** |")
    answering["comments"] |= {"max_seconds": 30.0, "analysed": 8999}  # one still waiting at the timeout
    assert _row(render_table(run, {"1.0": run}), "new comment analysed").endswith("| **no** |")
