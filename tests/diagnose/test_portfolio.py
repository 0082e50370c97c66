"""Many designs as one portfolio: the same table serially, on a process pool and on a LocalCluster; a cache
that skips finished designs; `cpeval run a.yaml b.yaml` writes one table and each design's results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _support import write_design
from cpeval.cli import main
from cpeval.diagnose.portfolio import run_portfolio
from cpeval.pipeline import evaluate
from diagnose._designs import counts, did_design


def _designs(tmp_path, n: int = 3) -> list:
    paths = []
    for i in range(n):
        counts(n_units=12, n_periods=6, treated=3, start=4, seed=i).to_csv(tmp_path / f"panel{i}.csv", index=False)
        raw = did_design({})
        raw.pop("diagnose")
        raw["name"] = f"area {i}"
        raw["data"]["path"] = f"panel{i}.csv"
        paths.append(write_design(tmp_path, raw, name=f"d{i}.yaml"))
    return paths


def test_portfolio_matches_the_designs_run_one_by_one_on_every_backend(tmp_path):
    distributed = pytest.importorskip("distributed")
    paths = _designs(tmp_path)
    serial = run_portfolio(paths, workers=1, progress=False)
    pooled = run_portfolio(paths, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        clustered = run_portfolio(paths, scheduler=c.scheduler_address, progress=False)
    assert serial.to_json() == pooled.to_json() == clustered.to_json()
    assert serial.results == clustered.results
    table = serial.table()
    assert list(table["design"]) == ["area 0", "area 1", "area 2"]
    for path, row in zip(paths, table.itertuples(), strict=True):
        alone = evaluate(path).effects[0]
        assert row.estimate == alone.estimate and (row.ci_lower, row.ci_upper) == alone.conf_int()


def test_portfolio_cache_skips_finished_designs(tmp_path, monkeypatch):
    import cpeval.diagnose.portfolio as portfolio

    paths = _designs(tmp_path, 2)
    first = run_portfolio(paths, workers=1, cache=tmp_path / "cache", progress=False)
    calls = []
    real = portfolio._evaluate
    monkeypatch.setattr(portfolio, "_evaluate", lambda names, i: calls.append(i) or real(names, i))
    again = run_portfolio(paths, workers=1, cache=tmp_path / "cache", progress=False)
    assert calls == [] and again.to_json() == first.to_json()


def test_cli_run_with_several_designs_writes_one_table(tmp_path, capsys):
    paths = _designs(tmp_path, 2)
    out = tmp_path / "out"
    assert main(["run", *map(str, paths), "--workers", "1", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "portfolio.csv")
    assert list(table["file"]) == ["d0.yaml", "d1.yaml"]
    assert json.loads((out / "d1" / "results.json").read_text())["design"]["name"] == "area 1"
    assert "Portfolio of 2 designs" in capsys.readouterr().out


def test_cli_portfolio_names_the_bad_design(tmp_path, capsys):
    paths = _designs(tmp_path, 1)
    bad = write_design(tmp_path, "name: x\nkind: did\n", name="bad.yaml")
    assert main(["run", str(paths[0]), str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "Traceback" not in err
