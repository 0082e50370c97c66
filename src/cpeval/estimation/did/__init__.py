"""Difference-in-differences estimators."""
