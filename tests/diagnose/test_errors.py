"""Bad diagnose declarations are clear errors naming the key and the fix."""

from __future__ import annotations

import pytest

from _support import write_design
from cpeval.cli import main
from cpeval.designs import design_from_dict
from cpeval.diagnose import diagnose
from cpeval.errors import DesignError
from diagnose._designs import synth, synth_design, trial, trial_design


@pytest.mark.parametrize(("section", "message"), [
    ({"effect": {"yy": 0.2}},
     "diagnose.effect: 'yy' is not an outcome of this design (outcomes: y); did you mean 'y'?"),
    ({"dgp": {"z": {"sd": 1}}}, "diagnose.dgp: 'z' is not an outcome of this design"),
    ({"simulations": 0}, "diagnose.simulations must be between 1 and 10,000,000, got 0"),
    ({"effect": {"y": "-150%"}}, "a fall of -150% or more leaves no crime to count"),
    ({"effect": {"y": "ten percent"}}, "expected a number (in the estimate's units) or a percentage such as '-10%'"),
    ({"vary": {"treated": [1]}}, "diagnose.vary: 'treated' cannot be varied; vary one of treated_units, pre_periods"),
    ({"dgp": {"y": {"family": "gamma"}}}, "diagnose.dgp.y.family"),
])
def test_bad_sections(section, message):
    with pytest.raises(DesignError) as err:
        design_from_dict(trial_design(section))
    assert message in str(err.value)


def test_zero_simulations_as_an_argument():
    with pytest.raises(DesignError, match="simulations must be a whole number of at least 1, got 0"):
        diagnose(trial_design({}), trial(), simulations=0, workers=1)


def test_effect_override_on_an_undeclared_outcome():
    with pytest.raises(DesignError, match=r"diagnose\.effect: 'burglary' is not an outcome"):
        diagnose(trial_design({}), trial(), effect={"burglary": "-10%"}, workers=1)


@pytest.mark.parametrize(("vary", "message"), [
    (["treated_units=0"], "treated_units=0 empties the treated group; give at least 1"),
    (["treated_units=7"], "treated_units=7 leaves no comparison units (the data have 7 units); give at most 6"),
    (["pre_periods=0"], "pre_periods=0 leaves no period before treatment"),
    (["pre_periods=20"], "pre_periods=20, but the data have only 8 periods before the first treated period"),
    (["treated=3"], "expected KEY=V1,V2,... with KEY one of treated_units, pre_periods"),
    (["treated_units=a,b"], "the values must be whole numbers"),
])
def test_bad_variants(vary, message):
    with pytest.raises(DesignError) as err:
        diagnose(synth_design({"simulations": 1}), synth(), vary=vary, workers=1)
    assert message in str(err.value)


def test_trials_have_no_variants():
    with pytest.raises(DesignError, match="vary treated_units applies to did and synthetic_control designs"):
        diagnose(trial_design({"simulations": 1}), trial(), vary=["treated_units=10"], workers=1)


def test_cli_reports_a_bad_variant_in_one_message(tmp_path, capsys):
    trial().to_csv(tmp_path / "trial.csv", index=False)
    path = write_design(tmp_path, trial_design({"simulations": 2}))
    code = main(["diagnose", str(path), "--vary", "treated_units=0", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("cpeval: error: ") and "Traceback" not in err
    assert "vary treated_units applies to did and synthetic_control designs" in err


def test_cli_bad_effect(tmp_path, capsys):
    trial().to_csv(tmp_path / "trial.csv", index=False)
    path = write_design(tmp_path, trial_design({"simulations": 2}))
    assert main(["diagnose", str(path), "--effect", "y"]) == 2
    assert "--effect 'y': expected OUTCOME=VALUE" in capsys.readouterr().err


def test_cli_writes_the_diagnosis_and_caches_beside_out(tmp_path, capsys):
    import json

    trial().to_csv(tmp_path / "trial.csv", index=False)
    path = write_design(tmp_path, trial_design({"simulations": 20}))
    out = tmp_path / "result"
    assert main(["diagnose", str(path), "--effect", "y=0.5", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "diagnosis.json").read_text())
    assert result["variants"][0]["outcomes"][0]["declared_effect"] == "0.5"
    assert "Verdict:" in printed and (out / "diagnosis.md").is_file()
    assert len(list((tmp_path / ".cpeval-cache" / "diagnose").glob("*.json"))) == 1


def test_failed_simulations_are_counted_and_named(monkeypatch):
    import cpeval.estimation.registry as registry
    from cpeval.errors import EstimationError

    real = registry.estimator_for

    class Flaky:
        def __init__(self, design):
            self.inner, self.calls = real(design), 0

        def fit(self, panel, outcome):
            self.calls += 1
            if self.calls % 4 == 0:
                raise EstimationError("singular design matrix")
            return self.inner.fit(panel, outcome)

    monkeypatch.setattr(registry, "estimator_for", Flaky)
    d = diagnose(trial_design({"simulations": 20, "effect": {"y": 0.5}}), trial(), workers=1, progress=False)
    o = d.variants[0].outcomes[0]
    assert (o.simulations, o.failed) == (15, 5)
    assert o.failure == "y: EstimationError: singular design matrix"
    assert any("failed on 5 of 20 simulated data sets" in line for line in d.verdict)


def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    from cpeval.errors import CpevalError

    with pytest.raises(CpevalError, match=r"--scheduler tcp://127.0.0.1:9: cannot reach a dask scheduler there"):
        diagnose(trial_design({"simulations": 1}), trial(), scheduler="tcp://127.0.0.1:9", progress=False)
