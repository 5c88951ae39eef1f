"""``report.html``: the comparison as a page a person reads, on screen or on paper.

Self-contained: the CSS is inline, the chart is inline SVG drawn by
matplotlib (its own SVG canvas, fonts as paths, no pyplot state), and the
page names no URL, so opening it makes no request. Sections: an overview
(files, conventions, ids in one file only, labels left unpaired), a summary
table, the per-label agreement chart (agreement, kappa with its interval,
F1), the confusion matrices, and the top disagreements with our evidence
highlighted (``<mark>`` for the matched phrase, underlined italics for the
cue). Print CSS keeps tables and matrices whole across pages.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..types import LabelValue
from .compare import KINDS, Comparison, Disagreement, LabelResult, average_scope
from .conventions import DESCRIPTIONS
from .metrics import VALUE_NAMES, VALUE_ORDER

BAR_COLOR = "#3b6ea5"
KAPPA_COLOR = "#14365c"
CI_COLOR = "#8fb0d6"
F1_COLOR = "#5a9a68"
HEADER_BG = "#dde6f0"
MAX_IDS_SHOWN = 40


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def na(value: float | None, digits: int = 3) -> str:
    """A precision, recall or F1: ``n/a`` when undefined (no positives on either side)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def kappa_text(value: float | None, ci: Sequence[float] | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.3f}"


def value_name(value: LabelValue) -> str:
    return "blank" if value is LabelValue.BLANK else value.to_csv()


# ---------------------------------------------------------------------------
# chart
# ---------------------------------------------------------------------------


def agreement_chart(results: Sequence[LabelResult], *, reference: bool, basis: str) -> str:
    """Per-label agreement, kappa with its interval and (with a reference) F1, as inline SVG."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    labels = [r.label for r in results]
    n = len(labels)
    panels = 3 if reference else 2
    with matplotlib.rc_context(
        {
            "svg.hashsalt": "reportlab-nlp",
            "svg.fonttype": "none",  # text stays text: searchable, small, drawn in the page's fonts
            "font.size": 8,
            "font.family": "DejaVu Sans",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        width, height = 10.0, 1.1 + 0.24 * max(n, 1)
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        # fixed margins (constrained layout would draw the figure twice): room for the longest label
        left = min(0.35, (0.2 + 0.062 * max((len(x) for x in labels), default=5)) / width)
        fig.subplots_adjust(left=left, right=0.98, top=1 - 0.42 / height, bottom=0.55 / height, wspace=0.08)
        ratios = [1.0, 1.3, 1.0][:panels]
        axes = fig.subplots(1, panels, sharey=True, gridspec_kw={"width_ratios": ratios})
        ys = list(range(n))
        ax = axes[0]
        shown = [(y, 100 * r.agreement) for y, r in zip(ys, results, strict=True) if r.agreement is not None]
        # Agreement is often 95-100%: zoom to the range in use (dots, not bars: no zero baseline implied).
        low = max(0.0, 5.0 * math.floor((min((v for _, v in shown), default=100.0) - 1.0) / 5.0))
        if shown:
            ax.hlines(
                [y for y, _ in shown], low, [v for _, v in shown], color="#d5dde8", linewidth=1, zorder=1
            )
            ax.plot(
                [v for _, v in shown], [y for y, _ in shown], "s", color=BAR_COLOR, markersize=5, zorder=2
            )
        span = 100.5 - low
        for y, value in shown:
            right = value < low + 0.7 * span  # the value's text beside its dot, on the side with room
            x = value + (0.02 if right else -0.02) * span
            ax.text(x, y, f"{value:.1f}%", va="center", ha="left" if right else "right", fontsize=6.5)
        ax.set_xlim(low, 100.5)
        ax.set_yticks(ys, labels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_title(f"agreement ({basis})", fontsize=9)
        ax.set_xlabel("% of reports" + (f" (axis from {low:.0f}%)" if low > 0 else ""))

        ax = axes[1]
        kappas = [(y, r.kappa) for y, r in zip(ys, results, strict=True)]
        with_ci = [(y, k.ci) for y, k in kappas if k.value is not None and k.ci]
        defined = [(y, k.value) for y, k in kappas if k.value is not None]
        left_k = min([0.0, *(ci[0] for _, ci in with_ci)]) - 0.05
        for x in (0.2, 0.4, 0.6, 0.8):
            ax.axvline(x, color="#e5e5e5", linewidth=0.6, zorder=0)
        ax.axvline(0.0, color="#999999", linewidth=0.8, zorder=0)
        if with_ci:
            ax.hlines(
                [y for y, _ in with_ci],
                [ci[0] for _, ci in with_ci],
                [ci[1] for _, ci in with_ci],
                color=CI_COLOR,
                linewidth=3,
            )
        if defined:
            ax.plot([v for _, v in defined], [y for y, _ in defined], "o", color=KAPPA_COLOR, markersize=4)
        for y, k in kappas:
            if k.value is None:
                ax.text(0.02, y, "undefined", va="center", ha="left", color="#777777", fontsize=7)
            else:
                ax.text(1.02, y, f"{k.value:.2f}", va="center", ha="left", fontsize=7, color=KAPPA_COLOR)
        ax.set_xlim(left_k, 1.12)
        ax.set_title("Cohen's kappa, 95% bootstrap interval", fontsize=9)
        ax.set_xlabel("kappa")

        if reference:
            ax = axes[2]
            f1s = [r.presence.scores.shown()[2] for r in results]
            ax.barh(ys, [f or 0.0 for f in f1s], color=F1_COLOR, height=0.7)
            for y, f in zip(ys, f1s, strict=True):
                if f is None:  # no positives on either side: F1 is undefined
                    ax.text(0.01, y, "n/a", va="center", ha="left", color="#777777", fontsize=7)
                    continue
                inside = f >= 0.12  # white on the bar, or dark beside a short one
                x, color = (0.01, "white") if inside else (f + 0.01, "#333333")
                ax.text(x, y, f"{f:.2f}", va="center", ha="left", color=color, fontsize=7)
            ax.set_xlim(0, 1)
            ax.set_title("F1 for presence (theirs = reference)", fontsize=9)
            ax.set_xlabel("F1")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return inline_svg(buf.getvalue(), "Agreement, Cohen's kappa with its interval, and F1 per label")


def inline_svg(svg: str, title: str) -> str:
    """SVG markup for inlining: no XML prolog, doctype or metadata; scalable; titled."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, flags=re.S)
    body = re.sub(r'\s(width|height)="[^"]*pt"', "", body, count=2)
    return body.replace("<svg ", f'<svg role="img" aria-label="{esc(title)}" ', 1)


# ---------------------------------------------------------------------------
# page
# ---------------------------------------------------------------------------

CSS = f"""
:root {{ --ink: #1d232b; --muted: #5b6573; --rule: #c9d2dd; --head: {HEADER_BG}; }}
* {{ box-sizing: border-box; }}
body {{ font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
  color: var(--ink); margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; background: #fff; }}
h1 {{ font-size: 24px; margin: 0 0 4px; }}
h2 {{ font-size: 18px; margin: 32px 0 8px; border-bottom: 2px solid var(--rule); padding-bottom: 4px; }}
p.sub, .muted {{ color: var(--muted); }}
code {{ font: 12.5px "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #f2f4f7; padding: 0 3px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }}
.card {{ border: 1px solid var(--rule); border-radius: 6px; padding: 8px 14px; min-width: 150px; }}
.card .v {{ font-size: 20px; font-weight: 600; }}
.card .k {{ font-size: 12px; color: var(--muted); }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e3e8ee; padding: 4px 7px; text-align: left; vertical-align: top; }}
thead th {{ background: var(--head); border-bottom: 2px solid var(--rule); }}
td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tfoot td {{ font-weight: 600; border-top: 2px solid var(--rule); }}
.k-high {{ background: #e3f1e4; }} .k-mid {{ background: #fdf3d7; }} .k-low {{ background: #fbe1de; }}
dl.facts {{ display: grid; grid-template-columns: 220px 1fr; gap: 3px 14px; margin: 8px 0; }}
dl.facts dt {{ color: var(--muted); }} dl.facts dd {{ margin: 0; }}
figure {{ margin: 8px 0; }} figure svg {{ width: 100%; height: auto; display: block; }}
figcaption {{ color: var(--muted); font-size: 12.5px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; }}
.cm {{ border: 1px solid var(--rule); border-radius: 6px; padding: 8px; }}
.cm h3 {{ font-size: 13.5px; margin: 0 0 4px; }}
.cm table {{ font-size: 12px; }}
.cm td, .cm th {{ padding: 2px 5px; text-align: right; border: 1px solid #e3e8ee; }}
.cm td.diag {{ font-weight: 600; }}
.cm .meta {{ font-size: 11.5px; color: var(--muted); margin-top: 4px; }}
mark {{ background: #ffe08a; padding: 0 1px; }}
.cue {{ font-style: italic; text-decoration: underline; text-decoration-color: #b0417a; color: #7a1f52; }}
.kind-conflict {{ color: #9b1c1c; font-weight: 600; }} .kind-hedged {{ color: #8a5a00; }}
.kind-detail {{ color: var(--muted); }}
td.sentence {{ max-width: 520px; }}
.ids {{ font: 12px "DejaVu Sans Mono", monospace; color: var(--muted); word-break: break-all; }}
ul.tight {{ margin: 4px 0; padding-left: 20px; }}
footer {{ margin-top: 36px; font-size: 12px; color: var(--muted); }}
@page {{ size: A4; margin: 14mm 12mm; }}
@media print {{
  body {{ font-size: 9.5pt; max-width: none; padding: 0; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
  h2 {{ break-after: avoid; page-break-after: avoid; margin-top: 18pt; }}
  thead {{ display: table-header-group; }}
  tr, .cm, .card, figure {{ break-inside: avoid; page-break-inside: avoid; }}
  table {{ font-size: 8.5pt; }}
  .grid {{ grid-template-columns: repeat(3, 1fr); }}
  #chart, #confusion, #disagreements {{ break-before: page; page-break-before: always; }}
  td.sentence {{ max-width: none; }}
}}
"""


def _kappa_class(value: float | None) -> str:
    if value is None:
        return ""
    return "k-high" if value >= 0.8 else "k-mid" if value >= 0.6 else "k-low"


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(esc(i) for i in ids[:MAX_IDS_SHOWN])
    more = f" … and {len(ids) - MAX_IDS_SHOWN} more (all in summary.json)" if len(ids) > MAX_IDS_SHOWN else ""
    return f'<span class="ids">{shown}{more}</span>'


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"<code>{esc(n)}</code>" for n in names) if names else "none"


def highlight(d: Disagreement) -> str:
    """The evidence sentence, escaped, with the matched phrase and the cue marked."""
    sentence = d.sentence
    spans: list[tuple[int, int, str]] = []
    start, end = d.match_start, d.match_end
    if not (0 <= start < end <= len(sentence)) and d.matched:
        start = sentence.find(d.matched)
        end = start + len(d.matched) if start >= 0 else -1
    if 0 <= start < end <= len(sentence):
        spans.append((start, end, "match"))
    cs, ce = d.cue_start, d.cue_end
    if not (0 <= cs < ce <= len(sentence)) and d.cue:
        cs = sentence.find(d.cue)
        ce = cs + len(d.cue) if cs >= 0 else -1
    if 0 <= cs < ce <= len(sentence) and (cs, ce) != (start, end):
        spans.append((cs, ce, "cue"))
    spans.sort()
    out, pos = [], 0
    for s, e, kind in spans:
        if s < pos:
            continue
        out.append(esc(sentence[pos:s]))
        piece = esc(sentence[s:e])
        out.append(f"<mark>{piece}</mark>" if kind == "match" else f'<span class="cue">{piece}</span>')
        pos = e
    out.append(esc(sentence[pos:]))
    return "".join(out)


def _overview(c: Comparison) -> str:
    o = c.overall
    presence = o["presence"]
    cards = [
        (f"{c.compared:,}", "reports compared"),
        (f"{len(c.labels)}", "labels compared"),
        (pct(o["agreement_micro"]), f"agreement ({c.basis}, micro)"),
        (num(o["kappa_micro"]), "Cohen's kappa (micro)"),
        (num(o["kappa_macro"]), "Cohen's kappa (macro)"),
    ]
    if c.settings.reference:
        scope = average_scope(presence)
        cards += [
            (num(presence.get("f1_micro")), f"F1 micro ({scope})"),
            (num(presence.get("f1_macro")), f"F1 macro ({scope})"),
        ]
    cards.append((f"{len(c.disagreements):,}", "disagreements"))
    card_html = "".join(
        f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for v, k in cards
    )
    m = c.mapping
    facts = [
        ("ours", f"<code>{esc(c.ours.name)}</code> ({esc(c.ours.kind)}, {c.ours.reports:,} reports)"),
        (
            "theirs",
            f"<code>{esc(c.theirs.name)}</code> ({esc(c.theirs.kind)}, {c.theirs.reports:,} reports"
            + (f", id column <code>{esc(c.theirs.id_column)}</code>)" if c.theirs.id_column else ")"),
        ),
        ("their value convention", esc(c.theirs.convention)),
        ("basis of agreement", f"<b>{esc(c.basis)}</b>: {esc(c.basis_reason)}"),
        ("reports in both files", f"{c.in_both:,}"),
        (
            "only in ours",
            f"{len(c.only_ours):,}" + (f": {_ids(c.only_ours)}" if c.only_ours else "") + " (not compared)",
        ),
        (
            "only in theirs",
            f"{len(c.only_theirs):,}"
            + (f": {_ids(c.only_theirs)}" if c.only_theirs else "")
            + (" (compared as if we found nothing)" if c.settings.missing == "blank" else " (not compared)"),
        ),
        ("our labels not compared", _names(m.unmapped_ours)),
        ("their labels not compared", _names(m.unmapped_theirs)),
    ]
    if m.ignored_theirs:
        facts.append(("their labels left out by the map", _names(m.ignored_theirs)))
    if m.unused_entries:
        facts.append(("map entries for labels THEIRS lacks", _names(m.unused_entries)))
    paired = [p for p in m.pairs if p.how != "same name"]
    if paired:
        facts.append(
            (
                "labels paired by name mapping",
                ", ".join(
                    f"<code>{esc(p.their_name)}</code> → <code>{esc(p.ours)}</code> ({esc(p.how)})"
                    for p in paired
                ),
            )
        )
    fact_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<section id="overview"><div class="cards">{card_html}</div>'
        f'<dl class="facts">{fact_html}</dl></section>'
    )


def _summary_table(c: Comparison) -> str:
    ref = c.settings.reference
    head = [
        "Label (ours)",
        "Their label",
        '<span title="reports compared for presence">n</span>',
        "Their +",
        "Our +",
        "Agreement",
        "κ [95% CI]",
    ]
    if ref:
        head += ["P", "R", "F1"]
    head += ["Disagree", "Reviewed"]
    numeric = set(range(2, len(head)))
    ths = "".join(f'<th class="n">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head))
    rows = []
    for r in c.labels:
        p = r.presence
        k = r.kappa
        reviewed = sum(v for key, v in r.verdicts.items() if key != "unreviewed")
        cells = [
            f"<td>{esc(r.label)}</td>",
            f"<td>{esc(r.pair.their_name)}</td>",
            f'<td class="n">{(r.n if c.basis == "exact" else p.n):,}</td>',
            f'<td class="n">{p.their_positives:,}</td>',
            f'<td class="n">{p.our_positives:,}</td>',
            f'<td class="n">{pct(r.agreement)}</td>',
            f'<td class="n {_kappa_class(k.value)}">{kappa_text(k.value, k.ci)}</td>',
        ]
        if ref:
            if not p.scores.defined:
                mark = ' title="no positives on either side: precision, recall and F1 are undefined"'
            elif not p.in_average:
                mark = ' title="fewer reference positives than --min-pos: not in micro/macro"'
            else:
                mark = ""
            style = "" if p.in_average else ' style="color:#8a94a3"'
            cells += [f'<td class="n"{style}{mark}>{na(v)}</td>' for v in p.scores.shown()]
        cells += [f'<td class="n">{r.disagreements:,}</td>', f'<td class="n">{reviewed:,}</td>']
        rows.append("<tr>" + "".join(cells) + "</tr>")
    o = c.overall
    pres = o["presence"]
    foot = []
    for which in ("micro", "macro"):
        cells = [
            f"<td>{which}</td><td></td><td></td><td></td><td></td>",
            f'<td class="n">{pct(o[f"agreement_{which}"])}</td>',
            f'<td class="n">{kappa_text(o[f"kappa_{which}"], o[f"kappa_{which}_ci"])}</td>',
        ]
        if ref:
            cells += [
                f'<td class="n">{num(pres.get(f"precision_{which}"))}</td>',
                f'<td class="n">{num(pres.get(f"recall_{which}"))}</td>',
                f'<td class="n">{num(pres.get(f"f1_{which}"))}</td>',
            ]
        cells.append("<td></td><td></td>")
        foot.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if ref:
        included = len(pres.get("labels_in_average", []))
        below = len(pres.get("labels_below_min_pos", []))
        undefined = len(pres.get("labels_undefined", []))
        note = (
            f"<p class='muted'>Micro and macro P, R and F1 cover the {included} labels with at least "
            f"{c.settings.min_pos} reference positives (greyed rows are left out: {below} by "
            f"<code>--min-pos</code>, {undefined} with no positives on either side, whose P, R and F1 "
            "are undefined: n/a), as <code>score.py</code> does; "
            f"agreement and kappa cover all {len(c.labels)} labels. Their + and Our + count reports "
            f"present for presence (ours: 1{' or -1' if c.settings.our_uncertain == 'present' else ''}).</p>"
        )
    return (
        '<section id="summary"><h2>Summary by label</h2>'
        f'<table class="summary"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"<tfoot>{''.join(foot)}</tfoot></table>{note}</section>"
    )


def cell_status(theirs: LabelValue, ours: LabelValue, c: Comparison) -> str:
    """``agree``, ``disagree``, ``same`` (same presence, other value) or ``out`` (left out) for a cell."""
    if c.basis == "exact":
        return "agree" if theirs is ours else "disagree"
    s = c.settings
    if theirs is LabelValue.UNCERTAIN and s.their_uncertain == "exclude":
        return "out"
    ours_p = ours is LabelValue.POSITIVE or (ours is LabelValue.UNCERTAIN and s.our_uncertain == "present")
    theirs_p = theirs is LabelValue.POSITIVE or (
        theirs is LabelValue.UNCERTAIN and s.their_uncertain == "present"
    )
    if ours_p != theirs_p:
        return "disagree"
    return "agree" if theirs is ours else "same"


def _confusions(c: Comparison) -> str:
    cards = []
    for r in c.labels:
        counts = r.confusion
        total = sum(sum(row) for row in counts) or 1
        head = "".join(f"<th>{esc(n)}</th>" for n in VALUE_NAMES)
        body = []
        for i, row in enumerate(counts):
            tds = []
            for j, v in enumerate(row):
                share = v / total
                status = cell_status(VALUE_ORDER[i], VALUE_ORDER[j], c)
                cls = ' class="diag"' if i == j else ""
                if not v:
                    color = "transparent"
                elif status == "agree":
                    color = f"rgba(90,154,104,{0.12 + 0.6 * share:.2f})"
                elif status == "disagree":
                    color = f"rgba(214,96,77,{0.15 + 0.8 * min(1.0, share * 8):.2f})"
                else:
                    color = "#f0f2f5"
                title = {
                    "agree": "agree",
                    "disagree": "disagree",
                    "same": "same presence",
                    "out": "left out",
                }[status]
                tds.append(f'<td{cls} title="{title}" style="background:{color}">{v:,}</td>')
            body.append(f"<tr><th>{esc(VALUE_NAMES[i])}</th>{''.join(tds)}</tr>")
        conv = ", ".join(DESCRIPTIONS.get(x.convention, x.convention).split(" (")[0] for x in r.conventions)
        cards.append(
            f'<div class="cm"><h3>{esc(r.label)}</h3>'
            f'<table><thead><tr><th title="rows: theirs; columns: ours">th \\ us</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            f'<div class="meta">theirs: {esc(r.pair.their_name)} ({esc(conv)}); exact agreement '
            f"{pct(r.exact_agreement)}, κ {kappa_text(r.exact_kappa.value, r.exact_kappa.ci)}</div></div>"
        )
    return (
        '<section id="confusion"><h2>Confusion matrices</h2>'
        "<p class='muted'>Counts of each (theirs, ours) pair of values over the reports compared: rows are "
        "their value, columns ours, in the order 1 (positive), 0 (negative), -1 (uncertain), blank (not "
        "mentioned). The diagonal is exact agreement. Green: agreement and red: disagreement on the "
        f"{esc(c.basis)} basis"
        + (
            "; grey: the same presence written differently (such as 0 against blank), or a row left out "
            "(their -1)"
            if c.basis == "presence"
            else ""
        )
        + ".</p>"
        f'<div class="grid">{"".join(cards)}</div></section>'
    )


def _disagreement_table(c: Comparison, top: int) -> str:
    shown = c.disagreements[:top]
    if not shown:
        return (
            '<section id="disagreements"><h2>Top disagreements</h2>'
            "<p>None: the two agree on every report.</p></section>"
        )
    rows = []
    for d in shown:
        evidence = highlight(d) if d.sentence else '<span class="muted">no mention found by us</span>'
        meta = []
        if d.section:
            meta.append(f"section {esc(d.section)}")
        if d.assertion:
            meta.append(esc(d.assertion))
        if d.evidence_note:
            meta.append(esc(d.evidence_note))
        meta_html = f'<div class="muted">{"; ".join(meta)}</div>' if meta else ""
        verdict = esc(d.verdict) if d.verdict else ""
        rows.append(
            f'<tr><td class="n">{d.rank}</td><td><code>{esc(d.report_id)}</code></td><td>{esc(d.label)}</td>'
            f'<td class="n">{esc(value_name(d.ours))}</td><td class="n">{esc(value_name(d.theirs))}</td>'
            f'<td class="kind-{esc(d.kind)}">{esc(d.kind)}</td>'
            f'<td class="sentence">{evidence}{meta_html}</td><td>{verdict}</td></tr>'
        )
    kinds = "; ".join(f"<b>{k}</b>: {esc(desc)}" for k, (_, desc) in KINDS.items())
    return (
        '<section id="disagreements"><h2>Top disagreements</h2>'
        f"<p class='muted'>The first {len(shown)} of {len(c.disagreements):,}, most informative first: "
        "conflicts, then hedges, then 0 against blank; those where we can show a sentence first; one label "
        "after another. All of them are in <code>disagreements.csv</code>, with a verdict column for review. "
        f"Kinds: {kinds}. <mark>Marked</mark>: the phrase we matched; "
        "<span class='cue'>underlined</span>: the cue that made it negative or uncertain.</p>"
        '<table><thead><tr><th class="n">#</th><th>Report</th><th>Label</th><th class="n">Ours</th>'
        '<th class="n">Theirs</th><th>Kind</th><th>Our evidence</th><th>Verdict</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _method(c: Comparison) -> str:
    s = c.settings
    their_unc = {
        "exclude": "their -1 rows are left out of that label",
        "present": "their -1 counts as present",
        "absent": "their -1 counts as absent",
    }[s.their_uncertain]
    return (
        '<section id="method"><h2>How the figures are made</h2><ul class="tight">'
        "<li><b>Agreement</b>: the share of reports where the two give the same value "
        f"({'the four values 1 / 0 / -1 / blank' if c.basis == 'exact' else 'present or not'}).</li>"
        "<li><b>Cohen's kappa</b> (scikit-learn): agreement corrected for chance; 1 is perfect, 0 is chance. "
        f"The interval is the 2.5th to 97.5th percentile of {s.n_boot:,} bootstrap resamples of the reports "
        f"(seed {s.seed}); the same resamples serve every label, and the micro and macro intervals. Shading: "
        "green ≥ 0.8, yellow ≥ 0.6, red below.</li>"
        f"<li><b>Presence</b>: ours is present when 1{' or -1' if s.our_uncertain == 'present' else ''}; "
        "theirs "
        f"when 1, absent when 0 or blank; {their_unc}.</li>"
        + (
            "<li><b>Precision, recall, F1</b>: for presence, with their labels as the reference; micro pools "
            f"the counts of the labels with at least {s.min_pos} reference positives, macro averages their "
            "F1 "
            "(the conventions of <code>score.py</code>).</li>"
            if s.reference
            else ""
        )
        + "</ul></section>"
    )


def render(c: Comparison, *, top: int = 50, title: str | None = None) -> str:
    """The whole page as one string."""
    heading = title or "Label comparison: ours against theirs"
    chart = (
        agreement_chart(c.labels, reference=c.settings.reference, basis=c.basis)
        if c.labels
        else "<p>No label compared.</p>"
    )
    settings = ", ".join(f"{k}={v}" for k, v in c.settings.to_dict().items())
    parts: list[Any] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(heading)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(heading)}</h1>",
        f'<p class="sub">{c.compared:,} reports, {len(c.labels)} labels. '
        f"Ours: <code>{esc(c.ours.name)}</code>; "
        f"theirs: <code>{esc(c.theirs.name)}</code>.</p></header>",
        _overview(c),
        _summary_table(c),
        '<section id="chart"><h2>Agreement by label</h2><figure>',
        chart,
        f"<figcaption>Per label: agreement on the {esc(c.basis)} basis, Cohen's kappa (dot) with its 95% "
        "bootstrap interval (bar)"
        + (", and F1 for presence with their labels as the reference" if c.settings.reference else "")
        + ".</figcaption></figure></section>",
        _confusions(c),
        _disagreement_table(c, top),
        _method(c),
        f"<footer>reportlab-nlp {esc(__version__)}; {esc(settings)}.</footer>",
        "</body></html>",
    ]
    return "\n".join(str(p) for p in parts)


__all__ = ["agreement_chart", "highlight", "inline_svg", "render"]
