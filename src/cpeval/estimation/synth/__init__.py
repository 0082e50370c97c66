"""Synthetic control estimators: Abadie et al. (nested V/W), ridge-augmented SCM, synthetic DiD.

``prep`` turns a validated panel into matrices, ``abadie`` holds the nested optimisation, ``conformal``
the Chernozhukov-Wuthrich-Zhu intervals; the estimator classes registered for the pipeline are
``abadie.AbadieSynth``, ``augmented.AugmentedSynth`` and ``sdid.SyntheticDiD``.
"""
