"""Smoke test of the benchmark suite at tiny sizes (``quick=True``).

Checks that every benchmark runs and returns finite, positive ratios and printable
tables. No wall-clock assertion: timings on a shared machine are not testable.
"""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` lives at the repo root

from benchmarks import bench_attacks as ba  # noqa: E402
from benchmarks import bench_defense as bd  # noqa: E402
from benchmarks import bench_geometry as bg  # noqa: E402
from benchmarks import bench_survey as bs  # noqa: E402
from benchmarks._timing import Check, compare, format_checks, format_table, ratio  # noqa: E402


@pytest.mark.parametrize("name", list(bg.BENCHMARKS))
def test_benchmark_quick(name):
    res = bg.run(name, quick=True)
    assert res.ratios, "a benchmark must report at least one ratio"
    for key, value in res.ratios.items():
        assert math.isfinite(value) and value > 0, (key, value)
    assert res.checks
    for check in res.checks:
        assert math.isfinite(check.value) and check.value >= 0, check
        assert check.status in ("PASS", "MISS", "(report)")
    for table in res.tables:
        assert all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert format_checks(res.checks)


def test_survey_benchmark_quick():
    """The curvature-survey benchmark (direct contour bend vs full-grid contour fit) at tiny sizes."""
    res = bs.run("survey", quick=True)
    assert set(res.ratios) == {"evaluations grid/direct", "time per plane grid/direct"}
    for key, value in res.ratios.items():
        assert math.isfinite(value) and value > 0, (key, value)
    # evaluations are counted, not timed: the 30 x 30 grid and the survey's defaults are exact
    assert res.ratios["evaluations grid/direct"] == pytest.approx(900 / bs._sv.evaluations_per_plane(
        bs._sv.bend_static(0.5, 2.0, bs._sv.DEFAULT_ROWS, bs._sv.DEFAULT_ITERATIONS, True, True)))
    assert res.checks and res.checks[0].status == "PASS"  # >= 10x fewer evaluations
    for check in res.checks:
        assert math.isfinite(check.value) and check.value >= 0, check
        assert check.status in ("PASS", "MISS", "(report)")
    assert len(res.tables) == 3
    for table in res.tables:
        assert table.rows and all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert format_checks(res.checks)


def test_attacks_benchmark_quick():
    """The attack-throughput benchmark (batched PGD vs a per-image loop) at tiny sizes."""
    res = ba.run("attacks", quick=True)
    assert set(res.ratios) == {"per-image time loop/batched"}
    assert all(math.isfinite(v) and v > 0 for v in res.ratios.values())
    agree = [c for c in res.checks if c.name.startswith("max |x_adv")]
    assert agree and agree[0].status == "PASS"  # the loop and the batched kernel give the same images
    for table in res.tables:
        assert table.rows and all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert format_checks(res.checks)


@pytest.mark.parametrize("name", ["attacks", "survey", "defense"])
def test_main_lists_the_benchmark(capsys, name):
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert name in capsys.readouterr().out


def test_compare_interleaves_and_pairs():
    calls = []
    t = compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    # warm-up a, b; then rounds in rotated order: ab, ba, ab
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert all(len(x.samples) == 3 for x in t.values())
    r = ratio(t["a"], t["b"])
    assert math.isfinite(r) and r > 0


def test_compare_rounds_per_variant():
    calls = []
    t = compare({"a": lambda: calls.append("a"), "slow": lambda: calls.append("slow")}, repeats=3,
                warmup={"slow": 0}, rounds={"slow": 1})
    assert calls == ["a", "a", "slow", "a", "a"]  # warm-up a; round 1: a, slow; rounds 2-3: a only
    assert len(t["a"].samples) == 3 and len(t["slow"].samples) == 1
    assert math.isfinite(ratio(t["slow"], t["a"]))


def test_check_status():
    assert Check("x", 3.2, 3.5, "<=").status == "PASS"
    assert Check("x", 3.6, 3.5, "<=").status == "MISS"
    assert Check("x", 100.0, 150.0, ">=").status == "MISS"
    assert Check("x", math.nan, 150.0, ">=").status == "MISS"
    assert Check("x", 1.0, None).status == "(report)"


def test_defense_benchmark_quick():
    """The measure_classifier throughput benchmark (batched vs one digit at a time) at tiny sizes."""
    res = bd.run("defense", quick=True)
    assert set(res.ratios) == {"per-image time loop/batched, robustness", "per-image time loop/batched, curvature",
                               "per-image time loop/batched, whole call"}
    assert all(math.isfinite(v) and v > 0 for v in res.ratios.values())
    rates = [c for c in res.checks if "/ s" in c.name]
    assert len(rates) == 4 and all(math.isfinite(c.value) and c.value > 0 for c in rates)
    agree = [c for c in res.checks if c.name.startswith("max rel. difference") and c.target is not None]
    assert agree and all(c.status == "PASS" for c in agree)  # the loop and the batched call give the same numbers
    assert len(res.tables) == 1 and len(res.tables[0].rows) == 3
    for table in res.tables:
        assert all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert format_checks(res.checks)


def test_browser_rows_become_summary_checks():
    from benchmarks import bench_browser

    rows = [{"notebook": "01.ipynb", "neuron": "relu", "grid": 64, "preview": False, "p95_ms": 120.0},
            {"notebook": "03.ipynb", "neuron": "mlp-2", "grid": 20, "preview": False, "p95_ms": 90.0},
            {"notebook": "02.ipynb", "neuron": "LCA", "grid": 32, "preview": True, "preview_grid": 12,
             "p95_ms": 230.0, "full_p95_ms": 400.0},
            {"notebook": "04.ipynb", "error": "NameError: x"}]
    checks = bench_browser.checks(rows)
    status = {c.name: c.status for c in checks}
    assert status == {"browser 01.ipynb / relu: 64x64 p95 (ms)": "PASS",  # the 20 x 20 MLP row has no target
                      "browser 02.ipynb / LCA: preview 12x12 p95 (ms)": "MISS",
                      "browser 02.ipynb / LCA: full 32x32 p95 (ms)": "PASS",
                      "browser 04.ipynb: ran": "MISS"}
    assert "MISS" in format_checks(checks)


def test_autoattack_benchmark_quick(capsys):
    """The AutoAttack-grade benchmark (APGD vs PGD per step; worst case of mlp-2 and lca-mlp-2) at tiny sizes."""
    from benchmarks import bench_autoattack as baa
    from benchmarks.__main__ import main

    res = baa.run("autoattack", quick=True)
    assert set(res.ratios) == {"time per step APGD/PGD", "worst case s per digit lca/mlp"}
    assert all(math.isfinite(v) and v > 0 for v in res.ratios.values())
    assert len(res.tables) == 3 and all(t.rows and all(len(r) == len(t.headers) for r in t.rows) for t in res.tables)
    assert "EXTRAPOLATED" in res.tables[2].caption
    measured = baa.run("autoattack", quick=True, lca_images=baa.QUICK.images)  # as many as mlp-2: no extrapolation
    assert "MEASURED" in measured.tables[2].caption and "EXTRAPOLATED" not in measured.tables[2].caption
    assert len(measured.tables[2].rows[0]) == len(measured.tables[2].headers)
    with pytest.raises(SystemExit):
        main(["--lca-images", "0"])
    assert all(math.isfinite(c.value) and c.value >= 0 for c in res.checks) and format_checks(res.checks)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "autoattack" in capsys.readouterr().out


def test_defense_cost_benchmark_quick(capsys):
    """The full-size comparison's cost (measure_classifier per model x image, and the plan) at tiny sizes."""
    from benchmarks.__main__ import main

    res = bd.run("defense-cost", quick=True)
    measured, per_config, plan, dominant = res.tables[:4]
    assert [r[0] for r in measured.rows[:len(bd.MEASUREMENTS)]] == list(bd.MEASUREMENTS)
    assert len(measured.headers) == 1 + len(bd.COST_QUICK.models)
    for row in measured.rows:  # seconds per model x image of every measurement (compilation may round to 0)
        assert all(math.isfinite(v) and v >= 0 for v in row[1:]), row
    assert all(v > 0 for v in measured.rows[len(bd.MEASUREMENTS) + 1][1:])  # ALL, s per image
    assert [r[0] for r in per_config.rows] == list(bd._df.DEFENSE_MODELS)
    assert {r[6] for r in per_config.rows} == {"MEASURED", "EXTRAPOLATED"}
    for r in per_config.rows:  # hours per seed and for the 3 seeds
        assert math.isfinite(r[8]) and r[8] > 0 and r[7] == pytest.approx(r[8] / bd.FULL_RUN_SEEDS), r
    assert "EXTRAPOLATED" in plan.caption and "load average" in plan.caption
    assert [r[0] for r in plan.rows] == ["MLP / linear", "LCA", "all"]
    assert plan.rows[-1][3] == pytest.approx(sum(r[3] for r in plan.rows[:-1]))  # families add up to the total
    assert plan.rows[-1][3] == pytest.approx(sum(r[8] for r in per_config.rows))
    assert plan.rows[-1][2] == bd.FULL_RUN_SEEDS * len(bd._df.DEFENSE_MODELS)
    assert dominant.rows[0][0] in dominant.caption and sum(r[2] for r in dominant.rows) == pytest.approx(100)
    for table in res.tables:
        assert table.rows and all(len(row) == len(table.headers) for row in table.rows)
        assert format_table(table.headers, table.rows)
    assert all(math.isfinite(v) and v > 0 for v in res.ratios.values())
    assert all(math.isfinite(c.value) and c.value >= 0 for c in res.checks) and format_checks(res.checks)
    settings, temperature = bd.comparison_settings()  # the comparison command's settings, not the quick ones
    assert settings["worst_case"] == bd._df.WORST_CASE_BUDGET and settings["eps"] == (0.05, 0.1)
    assert settings["survey"] == (8, 4, 4) and temperature == 0.05
    with pytest.raises(SystemExit):
        main(["--cost-images", "0"])
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "defense-cost" in capsys.readouterr().out
