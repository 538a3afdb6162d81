"""The benchmark's table (cxmetrics/management/commands/bench.py): the growth figure compares the run at
the default size with the run over five times the history, and says when that run is missing."""

from cxmetrics.management.commands.bench import render_table, run_key


def _run(scale: float, history: float, overview_ms: float, when: str) -> dict:
    page = {
        "page": "overview",
        "period": "last quarter",
        "filter": "no filter",
        "median_ms": overview_ms,
        "p95_ms": overview_ms * 1.2,
    }
    return {
        "scale": scale,
        "history": history,
        "key": run_key(scale, history),
        "when": when,
        "machine": "test",
        "command": "make bench",
        "total_seconds": 60,
        "dashboards": {"full_count_ms": 50.0, "pages": [page, {**page, "period": "all time"}]},
    }


def test_run_keys_keep_the_old_scale_keys():
    assert run_key(1) == "1.0" and run_key(5.0) == "5.0"
    assert run_key(1, 5) == "1.0 history 5.0"


def test_growth_is_measured_against_the_longer_history():
    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC")
    longer = _run(1.0, 5.0, 125.0, "2026-12-02 08:00 UTC")
    bigger = _run(5.0, 1.0, 300.0, "2026-12-01 23:52 UTC")
    table = render_table(base, {"1.0": base, longer["key"]: longer, "5.0": bigger})
    rows = [line for line in table.splitlines() if line.startswith("| overview growth")]
    assert rows[0].startswith("| overview growth 1 M → 5 M (last quarter): 5 × the history")
    assert "| ≤ 1.3 × | 1.25 × (100 → 125 ms;" in rows[0] and rows[0].endswith("| yes |")
    # The run with five times the customers is shown, without a target.
    assert "| — | 3.00 × (100 → 300 ms;" in rows[1] and rows[1].endswith("| — |")
    assert "## Dashboard pages at --scale 1.0 --history 5.0" in table

    slower = _run(1.0, 5.0, 140.0, "2026-12-02 08:00 UTC")
    table = render_table(base, {"1.0": base, slower["key"]: slower})
    assert "| 1.40 × (100 → 140 ms;" in table and "| **no** |" in table


def test_the_growth_row_says_which_run_is_missing():
    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC")
    table = render_table(base, {"1.0": base})
    assert "needs runs with --scale 1 and with --history 5 | — |" in table


def test_the_seed_target_is_judged_on_the_default_size_only():
    base = {**_run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC"), "seed_seconds": 200}
    longer = {**_run(1.0, 5.0, 125.0, "2026-12-02 08:00 UTC"), "seed_seconds": 1200}
    assert "| seed_demo at 100 000 customers | ≤ 5 min | 3.3 min | yes |" in render_table(base, {"1.0": base})
    assert "seed_demo at 100 000 customers" not in render_table(longer, {longer["key"]: longer})


def test_the_paired_growth_measurement_is_the_figure_when_there_is_one(tmp_path):
    from cxmetrics.management.commands.bench import _keep_skipped

    base = _run(1.0, 1.0, 100.0, "2026-12-02 07:00 UTC")
    longer = _run(1.0, 5.0, 140.0, "2026-12-02 08:00 UTC")
    path = tmp_path / "benchmarks.json"
    import json

    path.write_text(json.dumps({"1.0": base, longer["key"]: longer}))
    # A --reuse run that measured only the growth keeps the dashboards of the run before.
    again = {
        "scale": 1.0,
        "history": 5.0,
        "key": longer["key"],
        "when": "2026-12-02 09:00 UTC",
        "machine": "test",
        "command": "make bench",
        "total_seconds": 60,
        "growth": {"rounds": 6, "repeats": 7, "base_ms": 100.0, "longer_ms": 104.0, "ratio": 1.04},
    }
    _keep_skipped(path, again)
    assert again["dashboards"] == longer["dashboards"] and again["kept_from"]["phases"] == ["dashboards"]
    table = render_table(base, {"1.0": base, again["key"]: again})
    row = next(line for line in table.splitlines() if "5 × the history" in line)
    assert "| 1.04 × (100 → 104 ms, medians of 6 alternating rounds of 7" in row
    assert "separate runs 1.40 ×" in row and row.endswith("| yes |")
