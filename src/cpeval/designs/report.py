"""How the reports present an evaluation: statistical disclosure control and the wording of headlines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cpeval.designs.strict import StrictModel

DEFAULT_SUPPRESS_BELOW = 10


class ReportSpec(StrictModel):
    """``report:`` section of a design.

    Disclosure control is on by default. cpeval cannot tell from a panel whether its areas are small enough, or
    its rows personal enough, to identify a victim, so every report treats its data as if they were small-area
    or person-level: an observed count (crimes in one area and period of a count outcome, people assigned to or
    lost from a trial arm, survey respondents in one area and wave) below ``suppress_below`` is shown as
    ``<10`` in every table and left out of every figure. Set ``suppress_below: null`` for aggregate public
    statistics. Estimates, intervals and model-based quantities (synthetic series, crimes avoided) are not
    observed counts and are shown as they are.
    """

    suppress_below: int | None = Field(
        DEFAULT_SUPPRESS_BELOW, ge=2, le=1000,
        description="Observed counts below this are suppressed in report.md, report.html and figures "
        "(default 10; null turns disclosure control off).")
    results_json: Literal["full", "suppressed"] = Field(
        "full", description="What results.json keeps: 'full' (every count, for the analyst; the file says so) "
        "or 'suppressed' (the same suppression as the reports, safe to publish).")
    treated_as: str | None = Field(
        None, description="How headlines name where the programme ran, e.g. 'in states that passed the law' "
        "(default: 'in the treated areas', or 'in the treatment group' for a trial).")
