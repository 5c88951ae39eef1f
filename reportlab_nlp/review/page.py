"""``review.html``: the review queue as a page, in the style of compare's report.

Reuses :mod:`reportlab_nlp.evaluate.report_html` (its CSS, escaping and the
evidence highlighting: ``<mark>`` for the matched phrase, underlined italics
for the cue). Self-contained: inline CSS, no script, no URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._version import __version__
from ..evaluate.compare import Disagreement
from ..evaluate.report_html import CSS, esc, highlight
from ..types import LabelValue
from .command import Queue, Ranked, signals_note, value_text

QUEUE_CSS = """
td.score { font-weight: 600; }
.ev { margin: 0 0 4px; }
.ev .meta { color: var(--muted); font-size: 12px; }
tr.conflict td.score { color: #9b1c1c; }
"""


def _sentence(cell_column: str, m: Mapping[str, Any]) -> str:
    """One mention's sentence with its phrase and cue highlighted (offsets into the sentence)."""
    base = int(m.get("sentence_start", 0) or 0)

    def rel(key: str) -> int:
        value = m.get(key)
        return int(value) - base if isinstance(value, int) else -1

    d = Disagreement(
        report_id="",
        label=cell_column,
        their_label="",
        ours=LabelValue.BLANK,
        theirs=LabelValue.BLANK,
        sentence=str(m.get("sentence") or m.get("text") or ""),
        matched=str(m.get("text") or ""),
        cue=str(m.get("cue") or ""),
        match_start=rel("start"),
        match_end=rel("end"),
        cue_start=rel("cue_start"),
        cue_end=rel("cue_end"),
    )
    where = f"{m.get('section', '')}, {m.get('assertion', '')}, chars {m.get('start')}-{m.get('end')}"
    return f'<p class="ev">{highlight(d)} <span class="meta">({esc(where)})</span></p>'


def _row(r: Ranked) -> str:
    evidence = (
        "".join(_sentence(r.cell.column, m) for m in r.cell.mentions)
        or '<span class="muted">no mention</span>'
    )
    cls = ' class="conflict"' if any("conflicting" in x for x in r.reasons) else ""
    return (
        f'<tr{cls}><td class="n">{r.rank}</td><td>{esc(r.cell.report_id)}</td><td>{esc(r.cell.column)}</td>'
        f'<td>{esc(value_text(r.cell.value))}</td><td class="n score">{r.score:.4f}</td>'
        f'<td>{esc("; ".join(r.reasons))}</td><td class="sentence">{evidence}</td></tr>'
    )


def render_html(queue: Queue) -> str:
    heading = "Review queue: the labels most likely wrong"
    note = signals_note(queue)
    cards = [
        (f"{queue.total:,}", "cells scored"),
        (f"{queue.reports:,}", "reports"),
        (f"{len(queue.cells):,}", f"cells listed (--top {queue.top})"),
        ("yes" if queue.with_model else "no", "model signals"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(heading)}</title><style>{CSS}{QUEUE_CSS}</style></head><body>",
        f"<header><h1>{esc(heading)}</h1>",
        f'<p class="sub">From <code>{esc(queue.source)}</code>. {esc(note[:1].upper() + note[1:])}.</p>',
        "</header>",
        '<section id="overview"><div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
            for v, k in cards
        )
        + "</div></section>",
        '<section id="queue"><h2>Cells to review, most likely wrong first</h2>',
        '<table><thead><tr><th class="n">#</th><th>report</th><th>label</th><th>value</th>'
        '<th class="n">score</th><th>reasons</th><th>evidence</th></tr></thead><tbody>',
        *(_row(r) for r in queue.cells),
        "</tbody></table></section>",
        '<section id="method"><h2>Method</h2><p>The score is the probability, from a logistic regression '
        "fitted on the Open-i development gold (cross-fitted), that the cell's label is wrong in "
        "<code>score.py</code>'s convention. Its signals: the value's, cue's and lexicon entry's measured "
        "accuracy, conflicting and hedged mentions, and, where the JSONL has them, the model's calibrated "
        "probability and the hybrid's review flags. See <code>docs/model.md</code>, Review queue.</p>",
        "</section>",
        f"<footer>reportlab-nlp {esc(__version__)}.</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)
