"""The same diagnosis to the byte whatever runs it (serial, a local process pool, a dask LocalCluster), the
results cache resumes without redoing finished tasks, and row order does not matter."""

from __future__ import annotations

import json

import pytest

from cpeval.diagnose import diagnose
from diagnose._designs import counts, did_design, trial, trial_design


def _did() -> dict:
    return did_design({"effect": {"burglary": "-10%"}, "simulations": 40, "vary": {"treated_units": [4]}},
                      checks=["pre_trends"])


def test_serial_pool_and_local_cluster_agree_to_the_byte():
    distributed = pytest.importorskip("distributed")
    design, data = _did(), counts(n_units=16, n_periods=8, treated=3, start=5)
    serial = diagnose(design, data, workers=1, progress=False).to_json()
    pooled = diagnose(design, data, workers=2, progress=False).to_json()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster:
        clustered = diagnose(design, data, scheduler=cluster.scheduler_address, progress=False).to_json()
    assert serial == pooled == clustered
    result = json.loads(serial)
    assert [v["label"] for v in result["variants"]] == ["as designed", "treated_units=4"]
    assert result["variants"][1]["n_treated"] == 4
    assert {c["check"] for c in result["variants"][0]["checks"]} == {"pre_trends[burglary]"}


def test_cache_resumes_without_redoing_finished_tasks(tmp_path, monkeypatch):
    import cpeval.diagnose.simulate as simulate

    design, data = trial_design({"effect": {"y": 0.3}, "simulations": 60}), trial()
    from cpeval.diagnose.problem import prepare

    first = diagnose(design, data, workers=1, cache=tmp_path, progress=False).to_json()
    problem = prepare(design, data)
    files = [tmp_path / f"{problem.task_key(0, start, 20)}.json" for start in (0, 20, 40)]
    assert sorted(tmp_path.glob("*.json")) == sorted(files)  # 60 simulations in tasks of 20
    files[1].unlink()  # as if interrupted before the second task was written
    files[2].write_text('{"estimate": [')  # and the third cut short
    calls = []
    real = simulate.run_task

    def counted(*args):
        calls.append(args[1:])
        return real(*args)

    monkeypatch.setattr(simulate, "run_task", counted)
    again = diagnose(design, data, workers=1, cache=tmp_path, progress=False).to_json()
    assert again == first
    assert calls == [(0, 20, 20), (0, 40, 20)]
    calls.clear()
    diagnose(design, data, workers=1, cache=tmp_path, progress=False)
    assert calls == []


def test_row_order_does_not_change_the_diagnosis():
    design, data = _did(), counts(n_units=16, n_periods=8, treated=3, start=5)
    a = diagnose(design, data, workers=1, progress=False).to_dict()
    b = diagnose(design, data.sample(frac=1.0, random_state=4), workers=1, progress=False).to_dict()
    a.pop("data_hash"), b.pop("data_hash")
    assert a == b
