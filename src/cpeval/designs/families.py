"""The outcome families: each declared once here, in report order; everything else reads this table.

A family groups outcomes in results and reports (para 23(c) of the UN Guidelines lists what to assess: crime,
its seriousness, fear of crime, and other outcomes). Outcome validation reads which keys build an outcome of
a family (``builders``) and whether such an outcome must belong to it (``exclusive``); ordering results,
``annotate`` and the report's headings read ``name`` and ``title``. Deriving a builder's column is
``cpeval.outcomes.derive`` (a table keyed by builder, checked against this one by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutcomeFamily:
    name: str  # the value of an outcome's ``family:``
    title: str  # the report's heading for the family
    builders: tuple[str, ...] = ()  # outcome keys that build an outcome of this family from other columns
    exclusive: bool = False  # an outcome built by one of ``builders`` must declare this family
    what: str = ""  # how an error names such an outcome ("a harm index")


FAMILIES: tuple[OutcomeFamily, ...] = (
    OutcomeFamily("crime", "Crime and victimisation", builders=("total_of", "victimisation")),
    OutcomeFamily("seriousness", "Seriousness of crime", builders=("seriousness",), exclusive=True,
                  what="a harm index"),
    OutcomeFamily("fear", "Fear of crime", builders=("fear",), exclusive=True, what="a fear outcome"),
    OutcomeFamily("other", "Other outcomes"),
)
FAMILY_ORDER: tuple[str, ...] = tuple(f.name for f in FAMILIES)
FAMILY_TITLES: dict[str, str] = {f.name: f.title for f in FAMILIES}
# Keys that build the outcome from other columns (at most one per outcome).
BUILDERS: tuple[str, ...] = tuple(b for f in FAMILIES for b in f.builders)
# builder -> (family, how an error names the outcome) for builders that fix the family
IMPLIED_FAMILY: dict[str, tuple[str, str]] = {b: (f.name, f.what) for f in FAMILIES if f.exclusive for b in f.builders}
