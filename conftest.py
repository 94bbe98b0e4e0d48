"""Project-wide test configuration: pytester for the plugin's end-to-end tests.

pytester's in-process runs (``pytester.runpytest()``, ``inline_run``) restore ``sys.modules``
afterwards, dropping every module first imported inside them.  numpy's C extensions cannot
be imported twice in one process, and a matplotlib submodule imported again makes new
classes that the modules kept from before do not recognise (``set_clip_path`` refusing "a
Rectangle").  So the heavy modules the report and the statistics use are imported here,
before any test — matplotlib by drawing one small figure to SVG, which loads what drawing
loads lazily (the SVG backend, the font manager, text layout).  The plugin itself never
imports them at load: tests/test_neighbours.py checks that in subprocesses.
"""

import contextlib
import io

with contextlib.suppress(ImportError):
    import numpy  # noqa: F401
    import scipy.stats  # noqa: F401

with contextlib.suppress(ImportError):
    import matplotlib.collections
    import matplotlib.figure
    import matplotlib.patches
    import matplotlib.style
    import matplotlib.ticker

    _fig = matplotlib.figure.Figure(figsize=(1, 1))
    _ax = _fig.add_subplot()
    _ax.plot([1, 2], [1, 2])
    _ax.add_patch(matplotlib.patches.Rectangle((0, 0), 1, 1))
    _ax.set_xscale("log")
    _ax.text(1, 1, "x")
    _fig.savefig(io.StringIO(), format="svg")
    del _fig, _ax

pytest_plugins = ["pytester"]
