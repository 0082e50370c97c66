"""Design specifications: what to evaluate. Pydantic models only, no numerics."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from cpeval.designs.base import DataSpec, DesignBase, InferenceSpec
from cpeval.designs.did import DidDesign
from cpeval.designs.load import design_from_dict, design_schema, load_design
from cpeval.designs.outcomes import OutcomeSpec
from cpeval.designs.rct import RctDesign
from cpeval.designs.synth import SynthDesign

Design = Annotated[Union[DidDesign, SynthDesign, RctDesign], Field(discriminator="kind")]  # noqa: UP007

__all__ = [
    "DataSpec",
    "Design",
    "DesignBase",
    "DidDesign",
    "InferenceSpec",
    "OutcomeSpec",
    "RctDesign",
    "SynthDesign",
    "design_from_dict",
    "design_schema",
    "load_design",
]

