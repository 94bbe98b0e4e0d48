"""The look of the report pages: one stylesheet for the run page and the matrix, light and dark
(``prefers-color-scheme``), the colours of the charts, and the Content-Security-Policy both
pages carry.

The charts (:mod:`.charts`) are drawn in :data:`PALETTE`'s mid-tones, legible on the light and
the dark background alike, and in ``currentColor`` for text, axes and neutral lines; the page's
``--c-*`` and ``--z-*`` variables (badges aside, the colours of verdicts and zones in the HTML)
are made from the same palette, so each colour has one source.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CSP", "CSS", "PALETTE", "ZONE_ALPHA", "head", "rgba"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""No script, no request: images only as data URLs, styles only inline."""

PALETTE: Mapping[str, str] = {
    "confirmed": "#2f9e55",
    "refuted": "#e5483f",
    "inconclusive": "#c98500",
    "not-testable": "#8b9096",
    "fit-usl": "#3b7dd8",
}
"""Mid-tone colours of the verdicts (and the second fit of a curve): each has a contrast of at
least 3:1 (the WCAG minimum for graphics) against the light (``#fff``) and the dark
(``#15171a``) background."""

ZONE_ALPHA: Mapping[str, float] = {"confirm": 0.18, "undecided": 0.12, "refute": 0.16}
"""Opacity of the zone bands over the background: light enough for marks to stand out on
them in either scheme."""

ZONE_COLOUR = {"confirm": "confirmed", "undecided": "not-testable", "refute": "refuted"}
"""The palette entry each zone is tinted with."""


def rgba(colour: str, alpha: float) -> str:
    """``#2f9e55`` at ``alpha`` as a CSS ``rgba(…)``."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


_PALETTE_VARS = ":root { " + " ".join(
    [f"--c-{name}:{colour};" for name, colour in PALETTE.items()]
    + [f"--z-{zone}:{rgba(PALETTE[ZONE_COLOUR[zone]], alpha)};"
       for zone, alpha in ZONE_ALPHA.items()]) + " }\n"

_COLOURS = """
:root { color-scheme: light dark;
  --fg:#1d1d1f; --muted:#5b6168; --line:#d5d9de; --bg:#fff; --zebra:#f6f7f9; --head:#eef0f3;
  --link:#0b57d0; --flag:#b00020;
  --b-confirmed:#d9f2dd; --t-confirmed:#135c1f; --b-refuted:#fbdcdc; --t-refuted:#8a1515;
  --b-inconclusive:#fdf0c8; --t-inconclusive:#6b5000; --b-not-testable:#e6e6e6;
  --t-not-testable:#444; --note:#fffbe6; --note-line:#f0e0a0; --warn:#fff0f0;
  --warn-line:#f0b0b0; --mismatch:#fff3f3; }
@media (prefers-color-scheme: dark) { :root {
  --fg:#e4e6eb; --muted:#a3a9b0; --line:#3b4048; --bg:#15171a; --zebra:#1b1e22; --head:#24282e;
  --link:#8ab4f8; --flag:#ff8a80;
  --b-confirmed:#163d21; --t-confirmed:#9be3ab; --b-refuted:#4d1a1a; --t-refuted:#ffb3b3;
  --b-inconclusive:#4a3c0c; --t-inconclusive:#ffd97a; --b-not-testable:#33363b;
  --t-not-testable:#d0d3d7; --note:#2e2a14; --note-line:#6b5d1e; --warn:#3a1c1c;
  --warn-line:#7a3a3a; --mismatch:#3a1f22; } }
"""

_PAGE = """
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1.5rem;
       max-width: 1280px; }
a { color: var(--link); }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
p.runtime { font-size: 1.1rem; margin: 0 0 .5rem; }
ul.facts { list-style: none; padding: 0; margin: .3rem 0; display: flex; flex-wrap: wrap;
           gap: .4rem; }
ul.facts li { background: var(--zebra); border: 1px solid var(--line); border-radius: 4px;
              padding: .1rem .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
th { background: var(--head); font-weight: 600; }
tr:nth-child(even) td { background: var(--zebra); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.fig { font-variant-numeric: tabular-nums; min-width: 13rem; max-width: 30rem; }
td.fig .q, td.iv { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.claim { min-width: 11rem; }
td.claim code { overflow-wrap: normal; }
td.says { max-width: 28rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
               font-size: 12px; overflow-wrap: anywhere; }
.detail { color: var(--muted); font-size: 12px; }
.why { font-size: 12px; }
.v { display: inline-block; border-radius: 3px; padding: 0 .4rem; font-weight: 600;
     white-space: nowrap; }
.v-confirmed { background: var(--b-confirmed); color: var(--t-confirmed); }
.v-refuted { background: var(--b-refuted); color: var(--t-refuted); }
.v-inconclusive { background: var(--b-inconclusive); color: var(--t-inconclusive); }
.v-not-testable, .v-other { background: var(--b-not-testable); color: var(--t-not-testable); }
tr.mismatch td { background: var(--mismatch) !important; }
.flag { color: var(--flag); font-weight: 600; }
.good { color: var(--c-confirmed); font-weight: 600; }
.note { background: var(--note); border: 1px solid var(--note-line); padding: .5rem .8rem;
        border-radius: 4px; }
.warn { background: var(--warn); border: 1px solid var(--warn-line); padding: .5rem .8rem;
        border-radius: 4px; }
details { margin: .3rem 0; }
.scroll { overflow-x: auto; }
summary { cursor: pointer; }
footer { margin-top: 2rem; color: var(--muted); font-size: 12px; }
"""

_CHARTS = """
svg.chart { color: var(--fg); display: block; max-width: 100%; height: auto; }
svg.chart text { font-family: "DejaVu Sans", Verdana, system-ui, sans-serif; }
svg.chart path { stroke-linejoin: round; }
.chart-box { overflow-x: auto; margin: .5rem 0; }
table.forest td.lab { min-width: 12rem; max-width: 24rem; }
table.forest tr.flagged td.lab { box-shadow: inset 4px 0 var(--flag); }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; font-size: 12px;
          color: var(--muted); margin: .3rem 0; }
.legend .sw { display: inline-block; width: 1.1em; height: .8em; vertical-align: middle;
              border: 1px solid var(--line); margin-right: .3em; }
.sw.z-confirm { background: var(--z-confirm); } .sw.z-undecided { background: var(--z-undecided); }
.sw.z-refute { background: var(--z-refute); }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(470px, 1fr));
             gap: 1rem; }
figure.panel { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: .5rem; }
figure.panel figcaption { font-size: 13px; margin-bottom: .3rem; }
figure.panel svg.chart { width: 100%; }
figure.panel ul { margin: .3rem 0 0; padding-left: 1.2rem; font-size: 12px;
                  color: var(--muted); }
table.heat td.cell { text-align: center; white-space: nowrap; padding: 0; }
table.heat td.cell a, table.heat td.cell span.in { display: block; padding: .3rem .5rem;
  color: inherit; text-decoration: none; font-weight: 600; }
table.heat td.h-confirmed { background: var(--b-confirmed) !important; color: var(--t-confirmed); }
table.heat td.h-refuted { background: var(--b-refuted) !important; color: var(--t-refuted); }
table.heat td.h-inconclusive { background: var(--b-inconclusive) !important;
  color: var(--t-inconclusive); }
table.heat td.h-not-testable, table.heat td.h-mixed { background: var(--b-not-testable) !important;
  color: var(--t-not-testable); }
table.heat td.h-missing { color: var(--muted); }
table.heat tr.flips td.claim { box-shadow: inset 4px 0 var(--flag); font-weight: 600; }
table.heat tr.flips td.cell { outline: 2px solid var(--flag); outline-offset: -3px; }
"""

CSS = _PALETTE_VARS + _COLOURS + _PAGE + _CHARTS


def head(title: str) -> list[str]:
    """The opening of a page up to ``<body>``: charset, CSP, viewport, title, stylesheet.
    ``title`` must already be escaped."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{title}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
