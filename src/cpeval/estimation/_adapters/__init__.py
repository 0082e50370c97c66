"""The only place linearmodels, dowhy and econml are imported (always lazily, inside functions)."""
