"""What a run leaves behind, from records to pages.

* :mod:`.collect` — the :class:`ReportPlugin`: records per test (xdist-safe), the run document;
* :mod:`.files` — ``gil-<tag>.json`` / ``.md`` / ``.html``, written atomically;
* :mod:`.terminal`, :mod:`.markdown`, :mod:`.html`, :mod:`.plots` — the views;
* :mod:`.format` — numbers, figures and runtime labels shared by every view;
* :mod:`.matrix` — the matrix across interpreters (``python -m pytest_gil report``).
"""
