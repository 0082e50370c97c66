"""Lazy references to classes and functions, so registries can list them without importing them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(module: str, name: str) -> Callable[[], Any]:
    """A loader returning ``module.name``, imported on first call (heavy dependencies load only when used).

    Registries are static tables of these; a test resolves every entry, so a typo fails the suite.
    """

    def load() -> Any:
        return getattr(importlib.import_module(module), name)

    load.__qualname__ = f"lazy({module}.{name})"
    return load
