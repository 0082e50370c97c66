"""Small loaders and simulators with known truth.

``NAMED_DATASETS`` maps a name usable as ``data.dataset: cpeval.<name>`` in a design to a function returning
a DataFrame. Simulators (``simulate_did``, ``simulate_synth``, ``simulate_rct``, ...) live in modules of
this package and take a ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval._lazy import lazy

if TYPE_CHECKING:
    import pandas as pd


def _case_data_dir() -> Path:
    """Where the case-study CSV files are: the copy inside an installed wheel, else the source checkout's."""
    packaged = Path(__file__).resolve().parent / "_case_data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "case_studies" / "data"


CASE_DATA = _case_data_dir()


def _case_csv(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(CASE_DATA / f"{name}.csv")

    load.__doc__ = f"The shipped copy of case_studies/data/{name}.csv (see its README for provenance)."
    return load


def _hotspots_trial() -> pd.DataFrame:
    """SIMULATED cluster-randomised hot-spots policing trial (see cpeval.datasets.rct.hotspots_trial)."""
    from cpeval.datasets.rct import hotspots_trial

    return hotspots_trial()


def _city(part: str) -> Callable[[], pd.DataFrame]:
    simulator = lazy("cpeval.datasets.city", f"city_{part}")  # a registry entry: the data layer reads this table

    def load() -> pd.DataFrame:
        return simulator()()

    load.__doc__ = f"The simulated city's {part} data (cpeval.datasets.city, default seed; known true effects)."
    return load


NAMED_DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "castle": _case_csv("castle"),
    "mpdta": _case_csv("mpdta"),
    "smoking_prop99": _case_csv("smoking_prop99"),
    "basque": _case_csv("basque"),
    "hotspots_trial": _hotspots_trial,
    "city": _city("panel"),
    "city_monthly": _city("monthly"),
    "city_survey": _city("survey"),
    "city_hotspots": _city("hotspots"),
    "city_trial": _city("trial"),
}
