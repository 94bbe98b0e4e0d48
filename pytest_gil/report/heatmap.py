"""The matrix across runtimes as a picture (``matrix.html``): claims × runtimes as a heat map
of verdicts.

Each cell is coloured by its verdict and links to that claim's row in that runtime's run page
(``gil-<tag>.html#claim-…``, a relative path from where the matrix is written); its tooltip
says why the verdict came out so.  A claim whose verdict flips across runtimes (confirmed on
one, refuted on another: GIL builds against free-threaded ones) is outlined.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..vocabulary import VERDICTS
from .format import claim_anchor, e, verdict_badge
from .style import head

if TYPE_CHECKING:
    from .matrix import Cell, Matrix, Run

__all__ = ["MISSING", "cell_link", "render_heatmap"]

MISSING = "—"


def cell_link(run: Run, claim: str, out_dir: Path | None) -> str | None:
    """The URL of ``claim``'s row in ``run``'s HTML page relative to ``out_dir`` (where the
    matrix is written); ``None`` when that page does not exist, there is no ``out_dir``, or no
    relative path leads there."""
    page = run.path.with_suffix(".html")
    if out_dir is None or not page.is_file():
        return None
    try:
        rel = os.path.relpath(page.resolve(), out_dir.resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return None
    return f"{quote(Path(rel).as_posix())}#{quote(claim_anchor(claim), safe='.-_')}"


def _cell_class(cell: Cell) -> str:
    if not cell.verdicts:
        return "h-missing"
    if len(cell.verdicts) > 1:
        return "h-mixed"
    verdict = cell.verdicts[0]
    return f"h-{verdict}" if verdict in VERDICTS else "h-mixed"


def _cell_html(matrix: Matrix, claim: str, run: Run, out_dir: Path | None) -> str:
    cell = matrix.cell(claim, run)
    if not cell.verdicts:
        return f'<td class="cell h-missing"><span class="in">{MISSING}</span></td>'
    mark = "*" if cell.differs else ""
    tip = "; ".join(n for n in cell.notes if n) or cell.text
    words = f"{e(' / '.join(cell.verdicts))}{mark}"
    link = cell_link(run, claim, out_dir)
    inner = (f'<a href="{e(link)}" title="{e(tip)}">{words}</a>' if link
             else f'<span class="in" title="{e(tip)}">{words}</span>')
    return f'<td class="cell {_cell_class(cell)}">{inner}</td>'


def _summary(matrix: Matrix) -> str:
    flips = [c for c in matrix.claims if matrix.flips(c)]
    text = (f"{len(matrix.claims)} claims × {len(matrix.runs)} runtime"
            f"{'s' if len(matrix.runs) != 1 else ''}. ")
    if flips:
        text += f"{len(flips)} flip across runtimes (outlined): " + ", ".join(flips) + "."
    else:
        text += "No claim flips from confirmed to refuted across these runtimes."
    return f"<p>{e(text)}</p>"


def _legend() -> str:
    return ('<p class="detail">Cells link to the claim in that runtime\'s report. '
            f"{MISSING} not run on that runtime · <span class=\"flag\">*</span> differs from "
            "the verdict expected on that runtime · outlined rows flip: confirmed on one "
            "runtime, refuted on another · verdicts: "
            + " ".join(verdict_badge(v) for v in VERDICTS) + "</p>")


def _run_items(runs: Sequence[Run], line: dict[str, str]) -> list[str]:
    return [f"<li><b>{e(r.label)}</b>: {e(line[r.tag])} (<code>{e(r.path.name)}</code>)</li>"
            for r in runs]


def render_heatmap(matrix: Matrix, out_dir: Path | None, run_lines: dict[str, str]) -> str:
    """The matrix page; ``out_dir`` is where it will be written (for the relative links),
    ``run_lines`` a line per runtime tag for the header tooltips and the list of runtimes."""
    out = [*head("pytest-gil: claims across runtimes"),
           "<h1>pytest-gil: claims across runtimes</h1>", _summary(matrix), _legend(),
           '<div class="scroll"><table class="heat"><thead><tr><th>claim or check</th>'
           "<th>statement</th>",
           *(f'<th title="{e(run_lines[r.tag])}">{e(r.label)}</th>' for r in matrix.runs),
           "<th>flips</th></tr></thead><tbody>"]
    for claim in matrix.claims:
        flips = matrix.flips(claim)
        row = [f"<tr{' class=flips' if flips else ''}><td class=\"claim\"><code>{e(claim)}</code>"
               f'</td><td class="says detail">{e(matrix.sentences.get(claim, ""))}</td>']
        row += [_cell_html(matrix, claim, run, out_dir) for run in matrix.runs]
        row.append(f"<td>{'yes' if flips else ''}</td></tr>")
        out.append("".join(row))
    out += ["</tbody></table></div>", "<h2>Runtimes</h2><ul>",
            *_run_items(matrix.runs, run_lines), "</ul></body></html>\n"]
    return "\n".join(out)
