"""What a run leaves behind, from records to pages.

* :mod:`.collect` — the :class:`ReportPlugin`: records per test (xdist-safe), the run document;
* :mod:`.files` — ``gil-<tag>.json`` / ``.md`` / ``.html``, written atomically;
* :mod:`.terminal`, :mod:`.markdown`, :mod:`.html` — the views of a run;
* :mod:`.why` — why each verdict came out as it did, one sentence every view prints;
* :mod:`.forest` (the overview), :mod:`.evidence` (rounds and looks per check),
  :mod:`.curve` (speedup against workers, series), :mod:`.compare_view` (the baseline),
  :mod:`.details` (the numbers as tables) — the parts of the HTML page, drawn with matplotlib
  by :mod:`.charts` and :mod:`.draw` (inline SVG; matplotlib only while a page is drawn) and
  styled by :mod:`.style` (light and dark, one palette);
* :mod:`.reading`, :mod:`.context`, :mod:`.format` — reading checks, the capacity and per-test
  figures, and formatting numbers, figures and runtime labels, shared by every view;
* :mod:`.matrix` and :mod:`.heatmap` — the matrix across interpreters
  (``python -m pytest_gil report``).
"""
