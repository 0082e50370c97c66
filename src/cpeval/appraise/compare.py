"""``cpeval compare``: two evaluations (results.json files) side by side, outcome by outcome.

Flags per outcome: the estimates differ by more than sampling error (|z| > the normal critical value at the
first file's level, with z = (a - b) / sqrt(se_a^2 + se_b^2), the two treated as independent), opposite signs,
a different significance (one interval excludes zero, the other does not), intervals that do not overlap, and
different effect scales (then the estimates are not comparable and no z is computed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpeval.appraise.render import compare_markdown
from cpeval.errors import DesignError
from cpeval.results import critical_value, jsonable


@dataclass(frozen=True)
class OutcomeComparison:
    outcome: str
    a: dict[str, Any] | None  # estimate, std_error, conf_int, p_value, scale of each side (None: absent)
    b: dict[str, Any] | None
    difference: float | None
    z: float | None
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class Comparison:
    a_name: str
    b_name: str
    outcomes: tuple[OutcomeComparison, ...]

    @property
    def flagged(self) -> int:
        return sum(bool(o.flags) for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"a": self.a_name, "b": self.b_name, "flagged": self.flagged,
                         "outcomes": [o.to_dict() for o in self.outcomes]})

    def markdown(self) -> str:
        return compare_markdown(self)


def _side(effect: dict[str, Any]) -> dict[str, Any]:
    ci = effect.get("conf_int") or [None, None]
    return {"estimate": effect.get("estimate"), "std_error": effect.get("std_error"), "conf_int": ci,
            "p_value": effect.get("p_value"), "scale": effect.get("scale"), "level": effect.get("level")}


def _finite(*xs: Any) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def compare_outcome(outcome: str, a: dict[str, Any] | None, b: dict[str, Any] | None) -> OutcomeComparison:
    """The comparison of one outcome's effect in two results (effect dicts as in results.json)."""
    if a is None or b is None:
        missing = "first" if a is None else "second"
        return OutcomeComparison(outcome, a and _side(a), b and _side(b), None, None,
                                 (f"only in one evaluation (absent from the {missing})",))
    sa, sb = _side(a), _side(b)
    flags: list[str] = []
    if sa["scale"] != sb["scale"]:
        flags.append(f"different effect scales ({sa['scale']} vs {sb['scale']}): estimates not comparable")
        return OutcomeComparison(outcome, sa, sb, None, None, tuple(flags))
    diff = sa["estimate"] - sb["estimate"] if _finite(sa["estimate"], sb["estimate"]) else None
    z = None
    if diff is not None and _finite(sa["std_error"], sb["std_error"]) and math.hypot(sa["std_error"], sb["std_error"]):
        z = diff / math.hypot(sa["std_error"], sb["std_error"])
        crit = critical_value(sa["level"] or 0.95)
        if abs(z) > crit:
            flags.append(f"estimates differ beyond sampling error (z = {z:.2f}, |z| > {crit:.2f})")
    if diff is not None and sa["estimate"] * sb["estimate"] < 0:
        flags.append("opposite signs")
    (alo, ahi), (blo, bhi) = sa["conf_int"], sb["conf_int"]
    if _finite(alo, ahi, blo, bhi):
        sig_a, sig_b = alo > 0 or ahi < 0, blo > 0 or bhi < 0
        if sig_a != sig_b:
            flags.append(f"significant only in the {'first' if sig_a else 'second'}")
        if ahi < blo or bhi < alo:
            flags.append("intervals do not overlap")
    return OutcomeComparison(outcome, sa, sb, diff, z, tuple(flags))


def load_results(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DesignError(f"{p}: no such file; give the results.json that `cpeval run` wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DesignError(f"{p}: not a JSON file ({exc}); give the results.json that `cpeval run` wrote") from None
    if not isinstance(data, dict) or not isinstance(data.get("effects"), list):
        raise DesignError(f"{p}: no 'effects' list; give the results.json that `cpeval run` wrote")
    return data


def compare(a: dict[str, Any], b: dict[str, Any], a_name: str = "A", b_name: str = "B") -> Comparison:
    """Two results (parsed results.json) compared outcome by outcome, in the first's order then the second's."""
    ea = {e["outcome"]: e for e in a["effects"]}
    eb = {e["outcome"]: e for e in b["effects"]}
    names = [*ea, *(n for n in eb if n not in ea)]
    return Comparison(a_name, b_name, tuple(compare_outcome(n, ea.get(n), eb.get(n)) for n in names))


def compare_files(a: str | Path, b: str | Path) -> Comparison:
    return compare(load_results(a), load_results(b), str(a), str(b))
