"""The package version, in a leaf module that any layer may import (the package root re-exports it)."""

__version__ = "0.1.0"
