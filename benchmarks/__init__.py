"""The benchmarks of insp: scripts run as modules from the repository root.

``.venv/bin/python -m benchmarks.fit_speed --help`` (likewise ``derivatives``,
``derivatives_inprocess``, ``operators``, ``poisson``, ``restoration``,
``train_operators``, ``deblur_ceiling``).  Importing a module runs nothing:
each parses its arguments in ``main()``, so the tests import their functions
(``from benchmarks import train_operators``).  Results go to
``benchmarks/results/``; every file records :func:`insp.runinfo.run_metadata`.
"""
