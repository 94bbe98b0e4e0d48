"""Saved runs and comparisons with them (``--gil-autosave``, ``--gil-compare``,
``--gil-compare-fail``, ``python -m pytest_gil compare``); the user guide is
``docs/BASELINES.md``.

* :mod:`.storage` — ``<storage>/<machine-id>/<NNNN>_<commit>.json``: machine-id, git commit,
  numbering under a file lock, atomic writes, reading a report of schema 1 or 2;
* :mod:`.ratio` — the two-run test: Welch's t on the logarithms of the rounds;
* :mod:`.criteria` — the gate: ``verdict``, ``verdict:decided``, ``NAME:PCT%`` and their rule;
* :mod:`.compare` — matching checks across runs, the ``"baseline"`` object of the report;
* :mod:`.text` — the comparison as terminal lines;
* :mod:`.options`, :mod:`.plugin`, :mod:`.cli` — the options, the pytest plugin, the command.

Nothing heavy is imported here: scipy loads when a comparison computes an interval.
"""
