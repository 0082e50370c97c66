"""The cpeval error tree.

Every error a user can provoke is a :class:`CpevalError`, and each also inherits the matching built-in
(``DesignError`` is a ``ValueError``) so that generic handlers keep working. Messages say what was received,
what was expected and how to fix it. Data problems are collected, not raised one at a time: a
:class:`DataError` carries every :class:`Problem` found, each with a :class:`ProblemCode`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class CpevalError(Exception):
    """Base class of every error cpeval raises on purpose."""


class DesignError(CpevalError, ValueError):
    """A design file (or design dict) is malformed, inconsistent or asks for something unavailable."""


class ProblemCode(StrEnum):
    """Reason codes for data problems; tests and users can match on these."""

    FILE_NOT_FOUND = "file_not_found"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    MISSING_COLUMN = "missing_column"
    NON_NUMERIC = "non_numeric"
    MISSING_VALUES = "missing_values"
    DUPLICATE_ROWS = "duplicate_rows"
    NOT_BINARY = "not_binary"  # a 0/1 column with other values
    OUT_OF_RANGE = "out_of_range"  # a proportion outside [0, 1]
    ASSIGNMENT_VARIES_IN_CLUSTER = "assignment_varies_in_cluster"  # a cluster-randomised trial splits a cluster
    NOT_ABSORBING = "not_absorbing"
    COHORT_NOT_CONSTANT = "cohort_not_constant"
    NO_COMPARISON_UNITS = "no_comparison_units"
    NO_TREATED_UNITS = "no_treated_units"
    TOO_FEW_PRE_PERIODS = "too_few_pre_periods"
    TOO_FEW_POST_PERIODS = "too_few_post_periods"
    UNKNOWN_TREATED_UNIT = "unknown_treated_unit"
    UNKNOWN_DONOR = "unknown_donor"  # estimator.donors names a unit not in the data
    UNBALANCED_PANEL = "unbalanced_panel"
    NEGATIVE_VALUES = "negative_values"
    NON_POSITIVE = "non_positive"
    BAD_TIME = "bad_time"
    CONSTANT_OUTCOME = "constant_outcome"
    UNKNOWN_LABEL = "unknown_label"
    NON_FINITE = "non_finite"
    ABSORBED_COVARIATE = "absorbed_covariate"
    EMPTY_ROLE = "empty_role"  # an area role (treated, buffer, control) with no areas
    ROLE_CONFLICT = "role_conflict"  # an area in two roles, or a role that disagrees with the treatment
    NOT_CONSTANT_IN_UNIT = "not_constant_in_unit"  # a value that must be constant within a unit varies
    SINGLE_LEVEL = "single_level"  # a moderator with one level: no subgroups to compare
    NO_RESIDENTS = "no_residents"  # a group's residents are zero or missing where rates need them


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data: a code, the column concerned (if any) and a message with the fix."""

    code: ProblemCode
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"column {echo(self.column)}: " if self.column is not None else ""
        return f"[{self.code.value}] {where}{self.message}"


class DataError(CpevalError, ValueError):
    """The data do not fit the design. ``problems`` lists every problem found, not just the first."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        lines = [f"{source}: {n} data problem{'s' if n != 1 else ''} found:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> set[ProblemCode]:
        return {p.code for p in self.problems}


class EstimationError(CpevalError, RuntimeError):
    """An estimator could not produce an answer (a singular design, a failed optimiser, ...)."""


class OutputError(CpevalError, OSError):
    """cpeval cannot write its output where it was asked to (permissions, full disk, a file in the way)."""


class CpevalWarning(UserWarning):
    """A statistical warning (few clusters, failed pre-trend test, poor fit). Also recorded in results."""


ECHO_LIMIT = 200  # characters of a user's value repeated in a message


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr`` of a value a user gave, cut to about ``limit`` characters.

    Built with :mod:`reprlib`, so a huge nested value is never rendered in full before being cut.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxother = r.maxlong = limit
    text = r.repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest of ``choices``, or an empty string."""
    choices = [str(c) for c in choices]
    match = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        if str(value).lower() in lowered:
            match = [lowered[str(value).lower()]]
    return f"; did you mean {match[0]!r}?" if match else ""
