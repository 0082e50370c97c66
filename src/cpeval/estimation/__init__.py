"""Estimators: each turns a validated Panel into one Effect per outcome."""
