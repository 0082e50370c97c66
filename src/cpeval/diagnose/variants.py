"""Variants of a design diagnosed side by side: how many units are treated, how many periods precede treatment.

``treated_units=N`` keeps N of the treated units (a random subset, drawn with the design's seed) or adds
comparison units until N are treated, each new one taking the treatment timing of a treated unit in turn;
synthetic-control designs name the new treated units in ``treatment.units`` (and drop them from
``estimator.donors``). ``pre_periods=K`` keeps the last K periods before the first treated period. Each
variant is validated as a design of its own; the DGP is the one fitted to the design as declared, so the
variants differ only in their structure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cpeval.errors import DesignError

VARIANT_SEED = 0xD1A6  # spawn key of the variant draws, apart from the simulations' keys


def parse_vary(items: list[str] | dict[str, list[int]] | None) -> list[dict[str, int]]:
    """``["treated_units=10,20"]`` (or ``{treated_units: [10, 20]}``) as the variants to run, in order."""
    from cpeval.designs.diagnose import VARY_KEYS

    if not items:
        return []
    pairs: list[tuple[str, list[int]]] = []
    if isinstance(items, dict):
        pairs = [(k, list(v)) for k, v in items.items()]
    else:
        for item in items:
            key, sep, values = item.partition("=")
            key = key.strip()
            if not sep or key not in VARY_KEYS:
                raise DesignError(f"--vary {item!r}: expected KEY=V1,V2,... with KEY one of {', '.join(VARY_KEYS)}")
            try:
                pairs.append((key, [int(v) for v in values.split(",") if v.strip()]))
            except ValueError:
                raise DesignError(f"--vary {item!r}: the values must be whole numbers separated by commas") from None
            if not pairs[-1][1]:
                raise DesignError(f"--vary {item!r}: give at least one value")
    return [{key: v} for key, values in pairs for v in values]


def apply_variant(design: Any, raw: dict[str, Any], frame: Any, panel: Any, change: dict[str, int]) -> tuple:
    """The (design dict, data frame) of one variant of the simulated design."""
    from cpeval.data.panel import TREATED

    raw = _copy(raw)
    frame = frame.copy()
    kind = raw["kind"]
    treated_rows = panel.frame[TREATED].to_numpy() == 1
    for key, value in change.items():
        if kind == "rct":
            raise DesignError(f"diagnose: vary {key} applies to did and synthetic_control designs; for a trial, "
                              "`cpeval power` gives the sample size needed")
        if key == "treated_units":
            _treated_units(design, raw, frame, panel, treated_rows, value)
        else:
            frame = _pre_periods(frame, panel, treated_rows, value)
    return raw, frame


def _copy(raw: Any) -> Any:
    import copy

    return copy.deepcopy(raw)


def _treated_units(design: Any, raw: dict, frame: Any, panel: Any, treated_rows: np.ndarray, n: int) -> None:
    units = np.unique(panel.frame[panel.unit].to_numpy())
    treated = np.unique(panel.frame.loc[treated_rows, panel.unit].to_numpy())
    if n < 1:
        raise DesignError(f"diagnose: treated_units={n} empties the treated group; give at least 1")
    if n >= len(units):
        raise DesignError(f"diagnose: treated_units={n} leaves no comparison units (the data have {len(units)} "
                          f"units); give at most {len(units) - 1}")
    rng = np.random.default_rng(np.random.SeedSequence(design.inference.seed, spawn_key=(VARIANT_SEED,)))
    controls = np.setdiff1d(units, treated)
    if raw["kind"] == "synthetic_control":
        keep = list(rng.permutation(treated)[:n])
        keep += list(rng.permutation(controls)[: max(0, n - len(treated))])
        raw["treatment"]["units"] = [u.item() if hasattr(u, "item") else u for u in sorted(keep)]
        donors = raw["estimator"].get("donors")
        if donors is not None:
            raw["estimator"]["donors"] = [d for d in donors if str(d) not in {str(k) for k in keep}]
        return
    tr = design.treatment
    col = tr.indicator or tr.first_treated
    untreated = 0
    if n <= len(treated):
        drop = rng.permutation(treated)[n:]
        frame.loc[frame[panel.unit].isin(drop), col] = untreated
        return
    added = rng.permutation(controls)[: n - len(treated)]
    by_unit = frame.set_index([panel.unit, panel.time])[col]
    for i, unit in enumerate(added):
        source = treated[i % len(treated)]
        path = by_unit.xs(source, level=0)
        rows = frame[panel.unit] == unit
        frame.loc[rows, col] = frame.loc[rows, panel.time].map(path).to_numpy()


def _pre_periods(frame: Any, panel: Any, treated_rows: np.ndarray, k: int) -> Any:
    periods = np.unique(panel.frame[panel.time].to_numpy())
    first = panel.frame.loc[treated_rows, panel.time].min()
    pre = periods[periods < first]
    if k < 1:
        raise DesignError(f"diagnose: pre_periods={k} leaves no period before treatment; give at least 1")
    if k > len(pre):
        raise DesignError(f"diagnose: pre_periods={k}, but the data have only {len(pre)} periods before the first "
                          f"treated period; give at most {len(pre)}")
    return frame.loc[frame[panel.time] >= pre[len(pre) - k]].reset_index(drop=True)


def label(change: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in change.items()) or "as designed"
