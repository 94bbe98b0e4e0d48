"""The charts of the HTML page: matplotlib figures saved as inline SVG (the ``report`` extra).

matplotlib is imported here only, and only while a page is drawn: the plugin loads without it
and a run that writes no page never imports it.  A chart is a
:class:`matplotlib.figure.Figure` saved through the SVG canvas: no pyplot, no backend chosen,
nothing global changed — the drawing runs in an ``rc_context`` reset to matplotlib's defaults,
so a user's ``matplotlibrc`` or style does not leak into the report and the report's settings
do not leak out.

:func:`render` makes the SVG fit for the page: text stays text (``svg.fonttype = "none"``),
the XML prolog, metadata and namespaces go, ids are unique per chart (``svg.hashsalt``), and
:data:`INK` — the colour of text, axes and neutral marks — becomes ``currentColor``, which the
stylesheet sets to the scheme's foreground, so one chart reads in the light and the dark
scheme.  Backgrounds are transparent; verdicts and zones are drawn in the mid-tones of
:data:`.style.PALETTE`.  Each chart carries ``role="img"``, a ``<title>`` and a ``<desc>``
(its text alternative), and an artist given a class with :meth:`Chart.mark` keeps it in the SVG
(``<g class="pt-used">``), with a tooltip when given one.

Without matplotlib, :func:`render` returns the text alternative instead of the chart, and the
page says once (:data:`MISSING_NOTE`) how to get the charts.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .format import e

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

__all__ = ["FAILED", "FONT_SIZE", "INK", "MISSING_NOTE", "Chart", "available", "render",
           "text_alternative"]

MISSING_NOTE = ("Charts need matplotlib: <code>pip install 'pytest-gil[report]'</code> "
                "(the tables and the text below say what they would show).")
"""The one line a page drawn without matplotlib carries (HTML)."""

FAILED = "the chart could not be drawn"
"""What stands after a chart's text alternative when drawing it failed (with the error)."""

INK = "#fe00fe"
"""The sentinel colour of text, axes and neutral marks: replaced by ``currentColor`` in the
SVG (a colour no chart uses otherwise; a magenta mark on a page means a missed replacement)."""

FONT_SIZE = 11
"""Size of chart text, in pixels (one SVG unit is one CSS pixel, see :data:`PX`)."""

PX = 1 / 72
"""Inches per pixel: matplotlib's SVG has 72 units per inch, written here as CSS pixels, so a
figure of ``460 * PX`` inches is 460 pixels wide."""

MUTED = 0.6
"""Opacity of secondary ink (tick labels, axis lines): :data:`INK` at this opacity reads like
the page's muted text in either scheme."""

PRECISION = 1
"""Decimals kept in SVG coordinates: a tenth of a pixel is below what a screen shows, and the
page is a third smaller than with matplotlib's six significant digits."""

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # a ``$`` in a label is a dollar, not mathtext
    "font.size": FONT_SIZE,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "axes.facecolor": "none",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "figure.facecolor": "none",
    "savefig.transparent": True,
    "lines.linewidth": 1.3,
}
"""The report's matplotlib settings, over matplotlib's defaults."""

_CLASS = re.compile(r"[a-z]+(?:-[a-z]+)+")
"""A class :meth:`Chart.mark` gives: lower-case words joined by hyphens (matplotlib's own
group ids — ``figure_1``, ``line2d_3`` — never look like this)."""


def available() -> bool:
    """Whether matplotlib can be imported (the ``report`` extra is installed)."""
    try:
        with warnings.catch_warnings():  # an old matplotlib's deprecations are not the run's
            warnings.simplefilter("ignore")
            import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Chart:
    """A figure being drawn, with the classes and tooltips of its marks."""

    figure: Figure
    tips: list[str] = field(default_factory=list)

    def mark(self, artist: Artist, cls: str, tip: str = "") -> None:
        """Keep ``cls`` (hyphenated words: ``pt-used``) on ``artist``'s group in the SVG, with
        ``tip`` as its tooltip."""
        if not _CLASS.fullmatch(cls):
            raise ValueError(f"chart class {cls!r} is not hyphenated lower-case words")
        if tip:
            self.tips.append(tip)
            cls = f"{cls}--{len(self.tips) - 1}"
        artist.set_gid(cls)


def text_alternative(desc: str, note: str = "") -> str:
    """What stands in a chart's place when it is not drawn: its description (and why)."""
    why = f" <em>{e(note)}</em>" if note else ""
    return f'<p class="detail chart-alt">{e(desc)}{why}</p>'


def render(key: str, title: str, desc: str, size: tuple[float, float],
           paint: Callable[[Chart], None], *, tight: bool = False) -> str:
    """The chart ``paint`` draws on a figure of ``size`` pixels, as inline SVG titled ``title``
    and described by ``desc``; ``key`` (unique on the page) salts its ids.  ``tight`` crops
    the figure to what was drawn (labels of any length stay whole).  Without matplotlib, or
    when drawing fails, the text alternative instead."""
    if not available():
        return text_alternative(desc)
    try:
        chart, svg = _draw(key, size, paint, tight)
        return _inline(svg, title, desc, chart.tips)
    except Exception as exc:  # a chart is not worth the page: say what failed, keep the rest
        return text_alternative(desc, f"({FAILED}: {type(exc).__name__}: {exc})")


def _draw(key: str, size: tuple[float, float], paint: Callable[[Chart], None],
          tight: bool) -> tuple[Chart, str]:
    import matplotlib.style
    from matplotlib.figure import Figure

    # matplotlib's defaults under the report's settings, restored on the way out; a glyph
    # missing from its font (a CJK label) is a warning a ``-W error`` run must not fail on
    with warnings.catch_warnings(), matplotlib.style.context(
            ["default", {**_RC, "svg.hashsalt": key}]):
        warnings.simplefilter("ignore")
        chart = Chart(Figure(figsize=(size[0] * PX, size[1] * PX)))
        paint(chart)
        out = io.StringIO()
        chart.figure.savefig(out, format="svg", metadata={"Date": None},
                             bbox_inches="tight" if tight else None, pad_inches=2 * PX)
    return chart, out.getvalue()


_DROP = re.compile(r"<metadata>.*?</metadata>|<defs>\s*<style[^>]*>.*?</style>\s*</defs>"
                   r"|<!--.*?-->", re.S)
_ROOT = re.compile(r'<svg [^>]*viewBox="([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)"[^>]*>')
_GROUP = re.compile(r'<g id="([^"]*)">')
_EMPTY = re.compile(r'<g id="[^"]*"/>')
_NUMBERS = re.compile(r' (d|x|y|transform)="([^"]*)"')
_DECIMAL = re.compile(r"-?\d+\.\d+")
_TAG = re.compile(r"<g\b[^>]*>|</g>")
_USES = re.compile(r"<g( [^>]*)?>((?:<use [^>]*/>)+)</g>")
_STYLE = re.compile(r' style="([^"]*)"')


def _short(m: re.Match[str]) -> str:
    return f"{float(m.group()):.{PRECISION}f}".rstrip("0").rstrip(".")


def _shorten(m: re.Match[str]) -> str:
    """An attribute of coordinates with at most :data:`PRECISION` decimals."""
    return f' {m.group(1)}="{_DECIMAL.sub(_short, m.group(2))}"'


def _hoist(m: re.Match[str]) -> str:
    """A group of marks (``<use>``) of one style with the style given once, on the group."""
    styles = set(_STYLE.findall(m.group(2)))
    if len(styles) != 1 or (m.group(1) and "style=" in m.group(1)):
        return m.group()
    return (f'<g{m.group(1) or ""} style="{styles.pop()}">{_STYLE.sub("", m.group(2))}</g>')


def _unwrap(svg: str) -> str:
    """``svg`` without its bare ``<g>`` elements (no attribute: they group for matplotlib's
    bookkeeping only), their content kept."""
    out: list[str] = []
    kept: list[bool] = []
    at = 0
    for m in _TAG.finditer(svg):
        out.append(svg[at:m.start()])
        at = m.end()
        tag = m.group()
        if tag == "</g>":
            if kept.pop():
                out.append(tag)
        elif tag.endswith("/>"):
            continue
        else:
            kept.append(tag != "<g>")
            if kept[-1]:
                out.append(tag)
    out.append(svg[at:])
    return "".join(out)


def _inline(svg: str, title: str, desc: str, tips: list[str]) -> str:
    """matplotlib's SVG document as an element of the page (see the module's docstring)."""
    svg = _DROP.sub("", svg[svg.index("<svg"):])
    root = _ROOT.search(svg)
    if root is None:
        raise ValueError("matplotlib wrote an SVG without a viewBox")
    w, h = (float(root.group(i)) for i in (3, 4))
    head = (f'<svg class="chart" role="img" width="{w:g}" height="{h:g}" '
            f'viewBox="{root.group(1)} {root.group(2)} {w:g} {h:g}"><title>{e(title)}</title>'
            f"<desc>{e(desc)}</desc>")
    svg = head + svg[root.end():]

    def group(m: re.Match[str]) -> str:
        cls, _, tip = m.group(1).partition("--")
        if not _CLASS.fullmatch(cls):
            return "<g>"
        return f'<g class="{cls}">' + (f"<title>{e(tips[int(tip)])}</title>" if tip else "")

    svg = _GROUP.sub(group, _EMPTY.sub("", svg))
    svg = _NUMBERS.sub(_shorten, svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    svg = re.sub(r">\s+<", "><", svg)
    svg = re.sub(r"font-family: [^;\"]*(; )?", "", svg)
    svg = re.sub(r' transform="rotate\(-?0 [^"]*\)"', "", svg)
    svg = _unwrap(svg.replace("xlink:href=", "href=").replace(INK, "currentColor"))
    return _USES.sub(_hoist, svg).strip()
