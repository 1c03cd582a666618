"""The registered model entries: ``mcn`` and ``random`` (:mod:`mcnbench.zoo.mcn`), ``precomputed``
(:mod:`mcnbench.zoo.precomputed`), and :func:`~mcnbench.zoo.mcn.build_mcn`, the builder every
baseline in ``mcnbench.baselines`` is an override of. The layer above :mod:`mcnbench.models`
(plain torch) and :mod:`mcnbench.training`; it imports both, neither imports it.
"""
