"""Unintended consequences (UN Guidelines para 23(d)): displacement and diffusion of benefits, adverse and
disproportionate outcomes, who is harmed, and refutation.

One module per concept; nothing here is imported by ``import cpeval``. ``wdq`` and ``wdd`` are the count-based
displacement measures; ``spatial`` assigns area roles and estimates displacement with the design's own
estimator; ``adverse`` and ``disproportionality`` cover stigmatisation; ``subgroups`` who is harmed; ``refute``
the dowhy refuters; ``result`` the typed result the report reads; ``run`` ties them to a design.
"""
