"""Shared helpers of the synthetic control checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.prep import SynthData
    from cpeval.results import Effect


def outcomes_with_effects(
    panel: Panel, effects: Sequence[Effect]
) -> list[tuple[OutcomeSpec, Effect, SynthData]]:
    from cpeval.estimation.synth.prep import prepare

    design: SynthDesign = panel.design  # type: ignore[assignment]
    by_name = {e.outcome: e for e in effects}
    return [
        (o, by_name[o.name], prepare(panel, design, o.column)) for o in design.outcomes if o.name in by_name
    ]
