"""Many designs evaluated as one portfolio, with one summary table across them (``cpeval run a.yaml b.yaml``).

Each design is one task of :func:`cpeval.diagnose.execute.run_tasks`: on local processes by default or on a
dask.distributed cluster, with the same results in the same order whatever runs them (each evaluation takes
its seeds from its own design). A design runs its own refits in one process (``n_jobs: 1``), since the
portfolio already spreads designs over the workers. Finished evaluations are cached by design hash and data
fingerprint (the data file's sha256, or the packaged dataset's name and cpeval's version; designs reading a
database are always re-run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpeval.results import Summarised, jsonable

COLUMNS = ("design", "file", "outcome", "method", "estimate", "ci_lower", "ci_upper", "p_value", "percent_change",
           "n_units", "checks_warned", "warnings")


@dataclass(frozen=True)
class Portfolio(Summarised):
    rows: tuple[dict[str, Any], ...]
    results: tuple[dict[str, Any], ...]  # each design's results.json content, in the order given

    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))

    def to_json(self) -> str:
        return json.dumps(jsonable({"rows": list(self.rows)}), indent=2, sort_keys=True) + "\n"

    def summary(self) -> str:
        lines = [f"Portfolio of {len(self.results)} designs:"]
        for r in self.rows:
            ci = (f"[{r['ci_lower']:.4g}, {r['ci_upper']:.4g}]" if r["ci_lower"] is not None and r["ci_upper"]
                  is not None else "[n/a]")
            est = f"{r['estimate']:.4g}" if r["estimate"] is not None else "n/a"
            lines.append(f"  {r['file']}: {r['outcome']} = {est} {ci} ({r['method']}); "
                         f"{r['checks_warned']} checks warned, {r['warnings']} warnings")
        return "\n".join(lines)


def _evaluate(paths: tuple[str, ...], i: int) -> dict[str, Any]:
    from cpeval.designs import design_from_dict, load_design
    from cpeval.diagnose.scenario import one_process
    from cpeval.pipeline import evaluate

    design = load_design(paths[i])
    raw = design.model_dump(mode="json", by_alias=True)
    one_process(raw)
    single = design_from_dict(raw, source=paths[i])
    single._origin = design.origin
    import warnings

    from threadpoolctl import threadpool_limits

    # one BLAS thread wherever the evaluation runs (dask workers start with one), so sums add up in the same order
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        return json.loads(evaluate(single).to_json())


def _data_key(design: Any) -> str | None:
    from cpeval._version import __version__

    data = design.data
    if data.path is not None and design.origin is not None:
        path = Path(data.path) if Path(data.path).is_absolute() else Path(design.origin).parent / data.path
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None
    if data.dataset is not None:
        return f"dataset:{data.dataset}:{__version__}"
    return None


def run_portfolio(paths: list[str | Path], *, scheduler: str | None = None, workers: int | None = None,
                  cache: str | Path | None = None, progress: bool | None = None) -> Portfolio:
    """Evaluate every design (validated first, all of them, before anything runs) and tabulate the effects."""
    from cpeval.designs import load_design
    from cpeval.designs.load import design_hash
    from cpeval.diagnose.execute import Cache, run_tasks

    designs = [load_design(p) for p in paths]  # every design is validated before any evaluation starts
    names = tuple(str(p) for p in paths)
    keys: list[str | None] = []
    for d in designs:
        data = _data_key(d)
        keys.append(hashlib.sha256(f"{design_hash(d)}|{data}".encode()).hexdigest()[:32] if data else None)
    results = run_tasks(_evaluate, names, [(i,) for i in range(len(names))], keys, cache=Cache(cache),
                        scheduler=scheduler, workers=workers, label="portfolio", progress=progress)
    rows = []
    for path, result in zip(names, results, strict=True):
        warned = sum(c["status"] in ("warn", "fail") for c in result["checks"])
        for e in result["effects"]:
            pct = e.get("percent_change")
            rows.append({
                "design": result["design"]["name"], "file": Path(path).name, "outcome": e["outcome"],
                "method": e["method"], "estimate": e["estimate"], "ci_lower": e["conf_int"][0],
                "ci_upper": e["conf_int"][1], "p_value": e["p_value"], "percent_change": pct[0] if pct else None,
                "n_units": e["n_units"], "checks_warned": warned, "warnings": len(result["warnings"]),
            })
    return Portfolio(rows=tuple(rows), results=tuple(results))
