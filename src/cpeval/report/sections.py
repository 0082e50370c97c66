"""Every report section, listed once, in the report's order (see :data:`cpeval.report.section.PARTS`).

To add a section: write its class (a :class:`~cpeval.report.section.Section`) in its own module and put one
instance here, where it belongs in the order. The Markdown report, the HTML report, the figures and the
notebook views all read this tuple.
"""

from __future__ import annotations

from cpeval.report.appendix import Data, Design, Reproduce
from cpeval.report.appraisal import ClaimVerdicts, EvidenceStrength
from cpeval.report.cba import CostBenefit
from cpeval.report.consequences import Consequences
from cpeval.report.diagnostics import Checks, Warnings
from cpeval.report.did_cs import GroupTime
from cpeval.report.did_event import EventStudy, Robustness
from cpeval.report.effects import Effects
from cpeval.report.inference import AlternativeInferenceSection
from cpeval.report.outcomes import OutcomeMeasures
from cpeval.report.rct import Trial
from cpeval.report.section import PARTS, Section
from cpeval.report.summary import Summary
from cpeval.report.synth import SyntheticControl

SECTIONS: tuple[Section, ...] = (
    ClaimVerdicts(), Summary(), EvidenceStrength(),  # a claim's verdicts lead when the design has one
    # (a) effects, short and longer term, and for whom
    Effects(), AlternativeInferenceSection(), Trial(), EventStudy(), GroupTime(), SyntheticControl(),
    CostBenefit(),  # (b)
    OutcomeMeasures(),  # (c) crime, seriousness and fear
    Consequences(),  # (d)
    Checks(), Robustness(), Warnings(),  # diagnostics
    Design(), Data(), Reproduce(),  # appendix
)

_order = [list(PARTS).index(s.part) for s in SECTIONS]
assert _order == sorted(_order), "SECTIONS must follow the order of PARTS"
