"""Compare our labels with a donor's, label by label: :func:`compare`.

``compare(true, pred)`` pairs the labels (see
:mod:`~reportlab_nlp.evaluate.mapping`), reads the donor's values in their
convention (see :mod:`~reportlab_nlp.evaluate.conventions`), lines the reports
up by id, and computes per label the 4 x 4 confusion of 1 / 0 / -1 / blank,
percent agreement, Cohen's kappa with a bootstrap interval and, with the
donor as the reference, precision, recall and F1 for presence. It lists the
reports where the two differ, with our evidence, most informative first.

Two bases of agreement:

* ``exact``: the four values as they are (1, 0, -1, blank). Right when the
  donor, like us, tells "not mentioned" (blank) from "stated absent" (0).
* ``presence``: present or not. Ours is present when 1 (and -1 by default);
  theirs when 1, absent when 0 or blank, and their -1 rows are left out of
  that label by default. These are the conventions of ``score.py``, whose
  figures this reproduces exactly.

``auto`` picks ``exact`` when the donor's compared columns leave cells blank
(and are not binary), else ``presence``; the report says which and why.
Precision, recall and F1 are always for presence.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import LabelFileError
from ..types import Assertion, LabelValue, Mention
from . import metrics
from .conventions import CONVENTIONS, ColumnConvention, aggregate, describe, harmonise
from .mapping import LabelMap, LabelMapping, LabelPair, pair_labels, read_label_map
from .tables import Evidence, LabelTable, natural_key, normalise_name, read_labels, table_from_mapping

BASES = ("auto", "exact", "presence")
OUR_UNCERTAIN = ("present", "absent")
THEIR_UNCERTAIN = ("exclude", "present", "absent")
MISSING = ("skip", "blank")
VERDICTS = ("ours", "theirs", "both", "neither", "unclear")
"""A reviewer's verdict on a disagreement: whose label is right (blank: not reviewed)."""

KIND_CONFLICT = "conflict"
KIND_HEDGED = "hedged"
KIND_DETAIL = "detail"
KINDS = {
    KIND_CONFLICT: (3, "one side says present (1), the other absent or not mentioned (0 / blank)"),
    KIND_HEDGED: (2, "one side is uncertain (-1), the other is not"),
    KIND_DETAIL: (1, "both say not present, one as stated absent (0), the other as not mentioned (blank)"),
}
NO_FINDING = "no finding"

TableLike = LabelTable | str | os.PathLike[str] | Mapping[str, Mapping[str, object]]
EvidenceProvider = Callable[[set[str]], Evidence]


# ---------------------------------------------------------------------------
# settings and results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How to compare; see :func:`compare` for each field."""

    reference: bool = True
    basis: str = "auto"
    our_uncertain: str = "present"
    their_uncertain: str = "exclude"
    missing: str = "skip"
    min_pos: int = 10
    n_boot: int = 1000
    seed: int = 0
    confidence: float = 0.95
    convention: str = "auto"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("basis", self.basis, BASES),
            ("our_uncertain", self.our_uncertain, OUR_UNCERTAIN),
            ("their_uncertain", self.their_uncertain, THEIR_UNCERTAIN),
            ("missing", self.missing, MISSING),
            ("convention", self.convention, ("auto", *CONVENTIONS)),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.min_pos < 0 or self.n_boot < 0:
            raise ValueError("min_pos and n_boot must be >= 0")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": "theirs" if self.reference else None,
            "basis": self.basis,
            "our_uncertain": self.our_uncertain,
            "their_uncertain": self.their_uncertain,
            "missing": self.missing,
            "min_pos": self.min_pos,
            "bootstrap_resamples": self.n_boot,
            "seed": self.seed,
            "confidence": self.confidence,
            "convention": self.convention,
        }


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa and its bootstrap interval (None where undefined)."""

    value: float | None
    ci: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {"kappa": self.value, "kappa_ci": list(self.ci) if self.ci else None}


def average_scope(presence: dict[str, Any]) -> str:
    """What the micro/macro P/R/F1 cover: "over N labels; M left out by --min-pos K[; U with none]"."""
    n = presence.get("labels_averaged", len(presence.get("labels_in_average", [])))
    below = len(presence.get("labels_below_min_pos", []))
    undefined = len(presence.get("labels_undefined", []))
    text = f"over {n} label{'s' if n != 1 else ''}; {below} left out by --min-pos {presence.get('min_pos')}"
    if undefined:
        text += f"; {undefined} with no positives (n/a)"
    return text


@dataclass(frozen=True)
class Presence:
    """Presence figures of one label (``true`` = theirs)."""

    n: int
    left_out: int
    their_positives: int
    our_positives: int
    scores: metrics.PresenceScores
    agreement: float | None
    kappa: Kappa
    in_average: bool

    def to_dict(self, *, reference: bool) -> dict[str, Any]:
        s = self.scores
        out: dict[str, Any] = {
            "n": self.n,
            "left_out": self.left_out,
            "their_positives": self.their_positives,
            "our_positives": self.our_positives,
            "tp": s.tp,
            "fp": s.fp,
            "fn": s.fn,
            "tn": s.tn,
            "agreement": self.agreement,
            **self.kappa.to_dict(),
        }
        if reference:
            precision, recall, f1 = s.shown()  # None (JSON null) when no positives on either side
            out.update(precision=precision, recall=recall, f1=f1, in_average=self.in_average)
        return out


@dataclass(frozen=True)
class LabelResult:
    """Every figure of one compared label."""

    pair: LabelPair
    conventions: tuple[ColumnConvention, ...]
    n: int
    confusion: tuple[tuple[int, ...], ...]
    exact_agreement: float | None
    exact_kappa: Kappa
    presence: Presence
    basis: str
    disagreements: int = 0
    verdicts: Mapping[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.pair.ours

    @property
    def agreement(self) -> float | None:
        """Agreement on the comparison's basis."""
        return self.exact_agreement if self.basis == "exact" else self.presence.agreement

    @property
    def kappa(self) -> Kappa:
        """Kappa on the comparison's basis."""
        return self.exact_kappa if self.basis == "exact" else self.presence.kappa

    def to_dict(self, *, reference: bool) -> dict[str, Any]:
        return {
            "label": self.pair.ours,
            "theirs": list(self.pair.theirs),
            "how": self.pair.how,
            "convention": [c.to_dict() for c in self.conventions],
            "n": self.n,
            "agreement": self.agreement,
            **self.kappa.to_dict(),
            "confusion": {
                "order": list(metrics.VALUE_NAMES),
                "rows": "theirs",
                "columns": "ours",
                "counts": [list(r) for r in self.confusion],
            },
            "exact": {"agreement": self.exact_agreement, **self.exact_kappa.to_dict()},
            "presence": self.presence.to_dict(reference=reference),
            "disagreements": self.disagreements,
            "verdicts": dict(self.verdicts),
        }


@dataclass
class Disagreement:
    """One report where we and the donor differ on one label, with our evidence.

    ``sentence``, ``matched`` and ``cue`` come from our mention that gave our
    value (empty when we have none); ``match_start``/``match_end`` and
    ``cue_start``/``cue_end`` are offsets into ``sentence`` (-1 when unknown).
    ``verdict`` and ``note`` are the reviewer's.
    """

    report_id: str
    label: str
    their_label: str
    ours: LabelValue
    theirs: LabelValue
    their_value: str = ""
    kind: str = ""
    section: str = ""
    sentence: str = ""
    matched: str = ""
    cue: str = ""
    assertion: str = ""
    evidence_note: str = ""
    verdict: str = ""
    note: str = ""
    rank: int = 0
    match_start: int = -1
    match_end: int = -1
    cue_start: int = -1
    cue_end: int = -1

    @property
    def severity(self) -> int:
        return KINDS[self.kind][0] if self.kind in KINDS else 0

    @property
    def has_evidence(self) -> bool:
        return bool(self.sentence)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What a verdict is about: report, label and the two values."""
        return (self.report_id, self.label, self.ours.to_csv(), self.theirs.to_csv())


@dataclass(frozen=True)
class SourceSummary:
    """What was read from one side."""

    name: str
    kind: str
    reports: int
    id_column: str
    columns: tuple[str, ...]
    conventions: tuple[ColumnConvention, ...] = ()

    @property
    def convention(self) -> str:
        return describe(self.conventions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "kind": self.kind,
            "reports": self.reports,
            "id_column": self.id_column,
            "labels": len(self.columns),
            "convention": self.convention,
        }


@dataclass
class Comparison:
    """The outcome of :func:`compare`; :meth:`to_dict` is ``summary.json``."""

    ours: SourceSummary
    theirs: SourceSummary
    mapping: LabelMapping
    settings: Settings
    basis: str
    basis_reason: str
    in_both: int
    only_ours: list[str]
    only_theirs: list[str]
    labels: list[LabelResult]
    overall: dict[str, Any]
    disagreements: list[Disagreement]
    verdicts_carried: int = 0
    verdicts_stale: int = 0

    @property
    def compared(self) -> int:
        """Reports compared (in both files, plus THEIRS-only ones when ``missing="blank"``)."""
        return self.in_both + (len(self.only_theirs) if self.settings.missing == "blank" else 0)

    def label(self, name: str) -> LabelResult:
        """The result of one of our labels."""
        for r in self.labels:
            if r.label == name:
                return r
        raise KeyError(name)

    def verdict_counts(self) -> dict[str, int]:
        counts = Counter(d.verdict or "unreviewed" for d in self.disagreements)
        return {k: counts.get(k, 0) for k in (*VERDICTS, "unreviewed")}

    def to_dict(self) -> dict[str, Any]:
        """Every figure, for machines (``summary.json``)."""
        reference = self.settings.reference
        return {
            "tool": f"reportlab-nlp {__version__}",
            "settings": self.settings.to_dict(),
            "basis": self.basis,
            "basis_reason": self.basis_reason,
            "ours": self.ours.to_dict(),
            "theirs": self.theirs.to_dict(),
            "reports": {
                "in_both": self.in_both,
                "compared": self.compared,
                "only_ours": {"count": len(self.only_ours), "ids": self.only_ours},
                "only_theirs": {"count": len(self.only_theirs), "ids": self.only_theirs},
            },
            "label_map": self.mapping.to_dict(),
            "labels": [r.to_dict(reference=reference) for r in self.labels],
            "overall": self.overall,
            "disagreements": {
                "count": len(self.disagreements),
                "by_kind": dict(Counter(d.kind for d in self.disagreements)),
                "verdicts": self.verdict_counts(),
                "verdicts_carried_over": self.verdicts_carried,
                "verdicts_dropped_as_stale": self.verdicts_stale,
            },
        }

    # -- reviewer verdicts --------------------------------------------------------
    def apply_verdicts(self, reviewed: Iterable[Disagreement]) -> None:
        """Carry a reviewer's verdicts and notes over, by (report, label, our value, their value).

        A verdict whose values no longer match (the labels changed since the
        review) is dropped and counted in ``verdicts_stale``.
        """
        by_key = {d.key: d for d in self.disagreements}
        carried = stale = 0
        for old in reviewed:
            if not (old.verdict or old.note):
                continue
            new = by_key.get(old.key)
            if new is None:
                stale += 1
                continue
            new.verdict, new.note = old.verdict, old.note
            carried += 1
        self.verdicts_carried, self.verdicts_stale = carried, stale
        tallies: dict[str, Counter[str]] = {}
        for d in self.disagreements:
            tallies.setdefault(d.label, Counter())[d.verdict or "unreviewed"] += 1
        self.labels = [
            replace(r, verdicts={k: v for k, v in tallies.get(r.label, Counter()).items()})
            for r in self.labels
        ]


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------


def _table(obj: TableLike, *, id_col: str | None, name: str) -> LabelTable:
    if isinstance(obj, LabelTable):
        return obj
    if isinstance(obj, str | os.PathLike):
        return read_labels(obj, id_col=id_col, option=f"{name.strip('<>')}_id_col=")
    if isinstance(obj, Mapping):
        return table_from_mapping(obj, name=name)
    raise TypeError(f"expected a LabelTable, a path or a mapping of id -> labels, got {type(obj).__name__}")


def _label_map(obj: LabelMap | Mapping[str, str | None] | str | os.PathLike[str] | None) -> LabelMap | None:
    if obj is None or isinstance(obj, LabelMap):
        return obj
    if isinstance(obj, str | os.PathLike):
        return read_label_map(obj)
    return LabelMap.from_mapping(obj)


_LEADING_ZEROS = re.compile(r"^0+(?=\d)")


def _loose_id(rid: str) -> str:
    text = rid.strip().casefold()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return _LEADING_ZEROS.sub("", text)


def _no_common_ids(ours: LabelTable, theirs: LabelTable) -> LabelFileError:
    def sample(ids: Sequence[str]) -> str:
        return ", ".join(repr(i) for i in ids[:3])

    loose_ours = {_loose_id(i) for i in ours.ids}
    loose = sum(1 for i in theirs.ids if _loose_id(i) in loose_ours)
    hint = (
        f"; {loose} ids would match ignoring case, leading zeros and a trailing '.0': fix the ids in one file"
        if loose
        else "; check that both files use the same report ids (--id-col for OURS, --their-id-col for THEIRS)"
    )
    return LabelFileError(
        f"no report id in common: {ours.name} has {len(ours)} ids in column {ours.id_column!r} "
        f"(e.g. {sample(ours.ids)}) and {theirs.name} has {len(theirs)} ids in column "
        f"{theirs.id_column!r} (e.g. {sample(theirs.ids)}){hint}"
    )


def compare(
    true: TableLike,
    pred: TableLike,
    *,
    label_map: LabelMap | Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    reference: bool = True,
    basis: str = "auto",
    our_uncertain: str = "present",
    their_uncertain: str = "exclude",
    missing: str = "skip",
    min_pos: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    convention: str = "auto",
    true_id_col: str | None = None,
    pred_id_col: str | None = None,
    evidence: EvidenceProvider | None = None,
) -> Comparison:
    """Compare our labels (``pred``) with a donor's (``true``), label by label.

    Parameters
    ----------
    true
        The donor's labels: a wide or long CSV/TSV path, a
        :class:`~reportlab_nlp.evaluate.tables.LabelTable`, or
        ``{report_id: {label: value}}`` with values in any known convention.
    pred
        Ours: our JSONL or wide CSV path, a table, or a mapping.
    label_map
        Their label names to ours: a map file, a mapping or a
        :class:`~reportlab_nlp.evaluate.mapping.LabelMap` (same names and the
        built-in names pair without one).
    reference
        Treat the donor's labels as the reference: adds precision, recall and F1.
    basis
        ``exact`` (1 / 0 / -1 / blank as they are), ``presence``, or ``auto``.
    our_uncertain
        Whether our -1 counts as ``present`` (default, as ``score.py``) or ``absent``.
    their_uncertain
        Their -1 rows: ``exclude`` from that label's presence figures
        (default, as ``score.py``), or count them ``present`` or ``absent``.
    missing
        Reports in ``true`` only: ``skip`` (listed, not compared) or
        ``blank`` (compared as if we found nothing, as ``score.py`` does).
    min_pos
        Micro and macro precision, recall and F1 cover the labels with at
        least this many reference positives (``score.py``'s ``--min-pos``).
    n_boot, seed, confidence
        Bootstrap resamples, seed and interval level of kappa.
    convention
        The donor's value convention: ``auto`` (detect per column),
        ``chexpert``, ``binary`` or ``text``.
    true_id_col, pred_id_col
        Id columns when ``true`` / ``pred`` are paths.
    evidence
        Called with the ids of the reports that have disagreements; returns
        our mentions for them (when ``pred`` carries no evidence).

    Returns
    -------
    Comparison
        Per-label results, overall figures, the disagreements (ranked).

    Raises
    ------
    LabelFileError
        Unreadable or inconsistent label files, or no report in common.
    LabelMapError
        A bad map entry.

    Examples
    --------
    >>> from reportlab_nlp.evaluate import compare
    >>> theirs = {"a": {"Edema": "yes"}, "b": {"Edema": "no"}}
    >>> ours = {"a": {"Edema": 1}, "b": {"Edema": None}}
    >>> compare(theirs, ours, min_pos=1, n_boot=0).label("Edema").presence.scores.f1
    1.0
    """
    settings = Settings(
        reference=reference,
        basis=basis,
        our_uncertain=our_uncertain,
        their_uncertain=their_uncertain,
        missing=missing,
        min_pos=min_pos,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        convention=convention,
    )
    theirs = _table(true, id_col=true_id_col, name="<true>")
    ours = _table(pred, id_col=pred_id_col, name="<pred>")
    mapping = pair_labels(ours.columns, theirs.columns, _label_map(label_map))
    return _Comparer(ours, theirs, mapping, settings).run(evidence)


class _Comparer:
    """The steps of :func:`compare`, on tables that have been read."""

    def __init__(
        self, ours: LabelTable, theirs: LabelTable, mapping: LabelMapping, settings: Settings
    ) -> None:
        self.ours = ours
        self.theirs = theirs
        self.mapping = mapping
        self.s = settings
        self.our_index = {rid: i for i, rid in enumerate(ours.ids)}

    def run(self, evidence: EvidenceProvider | None) -> Comparison:
        ours, theirs, s = self.ours, self.theirs, self.s
        their_values: dict[str, list[LabelValue]] = {}
        their_conv: dict[str, ColumnConvention] = {}
        for pair in self.mapping.pairs:
            for col in pair.theirs:
                their_values[col], their_conv[col] = theirs.read(col, s.convention)
        their_conv = {c.column: c for c in harmonise(list(their_conv.values()))}
        our_values: dict[str, list[LabelValue]] = {}
        our_conv: list[ColumnConvention] = []
        for pair in self.mapping.pairs:
            our_values[pair.ours], conv = ours.read(pair.ours, "auto")
            our_conv.append(conv)

        ours_index = self.our_index
        theirs_index = {rid: i for i, rid in enumerate(theirs.ids)}
        both = [rid for rid in theirs.ids if rid in ours_index]
        if not both:
            raise _no_common_ids(ours, theirs)
        only_theirs = [rid for rid in theirs.ids if rid not in ours_index]
        only_ours = sorted((rid for rid in ours.ids if rid not in theirs_index), key=natural_key)
        compared = both + (only_theirs if s.missing == "blank" else [])
        t_rows = [theirs_index[rid] for rid in compared]
        o_rows = [ours_index.get(rid, -1) for rid in compared]

        basis, reason = self._basis([their_conv[c] for p in self.mapping.pairs for c in p.theirs])

        # values per label, aligned with ``compared``
        columns: list[tuple[LabelPair, list[LabelValue], list[LabelValue]]] = []
        for pair in self.mapping.pairs:
            ov = our_values[pair.ours]
            o = [ov[i] if i >= 0 else LabelValue.BLANK for i in o_rows]
            tv = [their_values[c] for c in pair.theirs]
            t = [tv[0][j] for j in t_rows] if len(tv) == 1 else [aggregate(v[j] for v in tv) for j in t_rows]
            columns.append((pair, t, o))

        results, overall = self._figures(columns, basis, their_conv)
        disagreements = self._disagreements(columns, basis, compared, t_rows, o_rows)
        self._attach_evidence(disagreements, evidence, set(ours_index))
        ranked = rank(disagreements, [p.ours for p, _, _ in columns])
        counts = Counter(d.label for d in ranked)
        results = [replace(r, disagreements=counts.get(r.label, 0)) for r in results]
        summary_theirs = SourceSummary(
            theirs.name,
            theirs.kind,
            len(theirs),
            theirs.id_column,
            tuple(theirs.columns),
            tuple(their_conv[c] for p in self.mapping.pairs for c in p.theirs),
        )
        summary_ours = SourceSummary(
            ours.name, ours.kind, len(ours), ours.id_column, tuple(ours.columns), tuple(our_conv)
        )
        comparison = Comparison(
            ours=summary_ours,
            theirs=summary_theirs,
            mapping=self.mapping,
            settings=s,
            basis=basis,
            basis_reason=reason,
            in_both=len(both),
            only_ours=only_ours,
            only_theirs=sorted(only_theirs, key=natural_key),
            labels=results,
            overall=overall,
            disagreements=ranked,
        )
        comparison.apply_verdicts(())
        return comparison

    # -- basis ----------------------------------------------------------------
    def _basis(self, conventions: Sequence[ColumnConvention]) -> tuple[str, str]:
        if self.s.basis != "auto":
            return self.s.basis, "set by the caller (--basis)"
        if any(c.has_blank and c.convention in ("chexpert", "text") for c in conventions):
            return "exact", (
                "THEIRS leaves cells blank, so, like ours, it tells 'not mentioned' (blank) from "
                "'stated absent' (0): the four values are compared as they are"
            )
        ours = "1 or -1" if self.s.our_uncertain == "present" else "1"
        theirs = {"exclude": "left out", "present": "present", "absent": "absent"}[self.s.their_uncertain]
        return "presence", (
            "THEIRS has no blank cells (or is binary), so its 0 means 'not present': the comparison is on "
            f"presence ({ours} present for ours; their -1 {theirs})"
        )

    # -- figures ---------------------------------------------------------------
    def _presence(
        self, t: metrics.IntArray, o: metrics.IntArray
    ) -> tuple[metrics.BoolArray, metrics.BoolArray, metrics.BoolArray]:
        """(theirs present, ours present, kept) per report, by the presence policies."""
        pos, unc = metrics.CODE[LabelValue.POSITIVE], metrics.CODE[LabelValue.UNCERTAIN]
        ours_p = (o == pos) | ((o == unc) & (self.s.our_uncertain == "present"))
        theirs_p = (t == pos) | ((t == unc) & (self.s.their_uncertain == "present"))
        keep = (t != unc) | (self.s.their_uncertain != "exclude")
        return theirs_p, ours_p, keep

    def _figures(
        self,
        columns: Sequence[tuple[LabelPair, list[LabelValue], list[LabelValue]]],
        basis: str,
        their_conv: Mapping[str, ColumnConvention],
    ) -> tuple[list[LabelResult], dict[str, Any]]:
        s = self.s
        n = len(columns[0][1]) if columns else 0
        points = [
            _Point.of(pair, tvals, ovals, *self._presence(*_codes(tvals, ovals)))
            for pair, tvals, ovals in columns
        ]
        boot_pairs: list[tuple[metrics.IntArray, int]] = []
        for pt in points:
            boot_pairs.append((metrics.pair_codes(pt.t, pt.o, 4), 4))
            boot_pairs.append((pt.presence_pairs, 2))
        boots = metrics.bootstrap_confusions(boot_pairs, n, n_boot=s.n_boot, seed=s.seed)
        exact_boot, presence_boot = boots[0::2], boots[1::2]
        exact_samples = [metrics.kappa_from_counts(b) for b in exact_boot]
        presence_samples = [metrics.kappa_from_counts(b) for b in presence_boot]

        def with_ci(value: float | None, samples: metrics.FloatArray) -> Kappa:
            if value is None or not s.n_boot:
                return Kappa(value, None)
            return Kappa(value, metrics.interval(samples, s.confidence))

        results: list[LabelResult] = []
        for pt, e_samples, p_samples in zip(points, exact_samples, presence_samples, strict=True):
            their_pos = pt.scores.tp + pt.scores.fn
            presence = Presence(
                n=pt.n_presence,
                left_out=n - pt.n_presence,
                their_positives=their_pos,
                our_positives=pt.our_positives,
                scores=pt.scores,
                agreement=metrics.agreement(pt.presence_confusion),
                kappa=with_ci(metrics.kappa(pt.tp_codes, pt.op_codes, 2), p_samples),
                in_average=s.reference and their_pos >= s.min_pos and pt.scores.defined,
            )
            results.append(
                LabelResult(
                    pair=pt.pair,
                    conventions=tuple(their_conv[c] for c in pt.pair.theirs),
                    n=n,
                    confusion=tuple(tuple(int(x) for x in row) for row in pt.confusion),
                    exact_agreement=metrics.agreement(pt.confusion),
                    exact_kappa=with_ci(metrics.kappa(pt.t, pt.o, 4), e_samples),
                    presence=presence,
                    basis=basis,
                )
            )

        exact_overall = {
            **self._micro([(pt.t, pt.o) for pt in points], 4, exact_boot),
            **self._macro(
                [r.exact_kappa.value for r in results], [r.exact_agreement for r in results], exact_samples
            ),
        }
        presence_overall = {
            **self._micro([(pt.tp_codes, pt.op_codes) for pt in points], 2, presence_boot),
            **self._macro(
                [r.presence.kappa.value for r in results],
                [r.presence.agreement for r in results],
                presence_samples,
            ),
        }
        if s.reference:
            presence_overall.update(self._presence_averages(results))
        headline = exact_overall if basis == "exact" else presence_overall
        overall: dict[str, Any] = {"labels": len(results), "basis": basis}
        for key in (
            "agreement_micro",
            "agreement_macro",
            "kappa_micro",
            "kappa_micro_ci",
            "kappa_macro",
            "kappa_macro_ci",
        ):
            overall[key] = headline[key]
        overall.update(exact=exact_overall, presence=presence_overall)
        return results, overall

    def _micro(
        self,
        pairs: Sequence[tuple[metrics.IntArray, metrics.IntArray]],
        k: int,
        boot: Sequence[metrics.IntArray],
    ) -> dict[str, Any]:
        """Pooled over labels: agreement and kappa of all (true, pred) pairs, with the pooled bootstrap."""
        t_all = np.concatenate([t for t, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        o_all = np.concatenate([o for _, o in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        counts = metrics.confusion(t_all, o_all, k)
        value = metrics.kappa(t_all, o_all, k)
        ci = None
        if value is not None and boot and self.s.n_boot:
            ci = metrics.interval(metrics.kappa_from_counts(np.sum(boot, axis=0)), self.s.confidence)
        return {
            "pairs": int(counts.sum()),
            "agreement_micro": metrics.agreement(counts),
            "kappa_micro": value,
            "kappa_micro_ci": list(ci) if ci else None,
        }

    def _macro(
        self,
        kappas: list[float | None],
        agreements: list[float | None],
        samples: Sequence[metrics.FloatArray],
    ) -> dict[str, Any]:
        """Means over labels (of those where kappa is defined), with the bootstrap of the mean."""
        value = metrics.mean(kappas)
        ci = None
        if value is not None and self.s.n_boot:
            stacked = np.vstack([smp for smp, k in zip(samples, kappas, strict=True) if k is not None])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a resample where no label is defined
                per_resample = np.nanmean(stacked, axis=0)
            ci = metrics.interval(per_resample, self.s.confidence)
        return {
            "agreement_macro": metrics.mean(agreements),
            "kappa_macro": value,
            "kappa_macro_ci": list(ci) if ci else None,
        }

    def _presence_averages(self, results: Sequence[LabelResult]) -> dict[str, Any]:
        """Micro and macro P/R/F1 over the labels with at least ``min_pos`` reference positives.

        A label with no positives on either side has no P/R/F1 and is never averaged;
        ``labels_averaged`` counts the labels in the averages, ``labels_below_min_pos``
        lists those left out by ``min_pos`` (their P/R/F1 defined) and ``labels_undefined``
        those without positives.
        """
        eligible = [r.presence.scores for r in results if r.presence.in_average]
        tp = sum(e.tp for e in eligible)
        below = [r.label for r in results if r.presence.scores.defined and not r.presence.in_average]
        return {
            "labels_in_average": [r.label for r in results if r.presence.in_average],
            "labels_averaged": len(eligible),
            "labels_below_min_pos": below,
            "labels_undefined": [r.label for r in results if not r.presence.scores.defined],
            "min_pos": self.s.min_pos,
            "precision_micro": _ratio(tp, sum(e.tp + e.fp for e in eligible)),
            "recall_micro": _ratio(tp, sum(e.tp + e.fn for e in eligible)),
            "f1_micro": metrics.micro_f1(eligible) if eligible else None,
            "precision_macro": metrics.mean([e.precision for e in eligible]),
            "recall_macro": metrics.mean([e.recall for e in eligible]),
            "f1_macro": metrics.mean([e.f1 for e in eligible]),
        }

    # -- disagreements -----------------------------------------------------------
    def _disagreements(
        self,
        columns: Sequence[tuple[LabelPair, list[LabelValue], list[LabelValue]]],
        basis: str,
        compared: Sequence[str],
        t_rows: Sequence[int],
        o_rows: Sequence[int],
    ) -> list[Disagreement]:
        out: list[Disagreement] = []
        for pair, tvals, ovals in columns:
            t, o = metrics.value_codes(tvals), metrics.value_codes(ovals)
            if basis == "exact":
                differ = t != o
            else:
                theirs_p, ours_p, keep = self._presence(t, o)
                differ = keep & (theirs_p != ours_p)
            for i in np.flatnonzero(differ).tolist():
                raw = "; ".join(
                    f"{c}={self.theirs.raw(c, t_rows[i])}"
                    if len(pair.theirs) > 1
                    else self.theirs.raw(c, t_rows[i])
                    for c in pair.theirs
                )
                out.append(
                    Disagreement(
                        report_id=compared[i],
                        label=pair.ours,
                        their_label=pair.their_name,
                        ours=ovals[i],
                        theirs=tvals[i],
                        their_value=raw,
                        kind=kind_of(ovals[i], tvals[i]),
                    )
                )
        return out

    def _attach_evidence(
        self, disagreements: list[Disagreement], provider: EvidenceProvider | None, our_ids: set[str]
    ) -> None:
        needed = {d.report_id for d in disagreements if d.report_id in our_ids}
        evidence: Evidence
        if self.ours.evidence is not None:
            evidence = self.ours.evidence
        elif provider is not None and needed:
            evidence = provider(needed)
        else:
            return
        for d in disagreements:
            fill_evidence(d, evidence.get(d.report_id, {}), self._our_row(d.report_id))

    def _our_row(self, report_id: str) -> dict[str, LabelValue]:
        """All our values of one report (for No Finding's explanation)."""
        i = self.our_index.get(report_id)
        if i is None:
            return {}
        out = {}
        for c in self.ours.columns:
            try:
                out[c] = self.ours.read(c, "auto")[0][i]
            except LabelFileError:
                continue
        return out


def _codes(
    tvals: Sequence[LabelValue], ovals: Sequence[LabelValue]
) -> tuple[metrics.IntArray, metrics.IntArray]:
    return metrics.value_codes(tvals), metrics.value_codes(ovals)


@dataclass(frozen=True)
class _Point:
    """One label's arrays and point figures, before the bootstrap."""

    pair: LabelPair
    t: metrics.IntArray
    o: metrics.IntArray
    tp_codes: metrics.IntArray
    op_codes: metrics.IntArray
    presence_pairs: metrics.IntArray
    confusion: metrics.IntArray
    presence_confusion: metrics.IntArray
    scores: metrics.PresenceScores
    n_presence: int
    our_positives: int

    @classmethod
    def of(
        cls,
        pair: LabelPair,
        tvals: Sequence[LabelValue],
        ovals: Sequence[LabelValue],
        theirs_p: metrics.BoolArray,
        ours_p: metrics.BoolArray,
        keep: metrics.BoolArray,
    ) -> _Point:
        t, o = _codes(tvals, ovals)
        tp_codes = theirs_p.astype(np.int64)[keep]
        op_codes = ours_p.astype(np.int64)[keep]
        return cls(
            pair=pair,
            t=t,
            o=o,
            tp_codes=tp_codes,
            op_codes=op_codes,
            presence_pairs=metrics.pair_codes(theirs_p.astype(np.int64), ours_p.astype(np.int64), 2, keep),
            confusion=metrics.confusion(t, o, 4),
            presence_confusion=metrics.confusion(tp_codes, op_codes, 2),
            scores=metrics.presence_scores(theirs_p[keep], ours_p[keep]),
            n_presence=int(keep.sum()),
            our_positives=int(ours_p[keep].sum()),
        )


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def kind_of(ours: LabelValue, theirs: LabelValue) -> str:
    """The kind of a disagreement.

    ``conflict``: 1 against 0 or blank; ``hedged``: -1 against another value;
    ``detail``: 0 against blank.
    """
    values = {ours, theirs}
    if LabelValue.UNCERTAIN in values:
        return KIND_HEDGED
    if LabelValue.POSITIVE in values:
        return KIND_CONFLICT
    return KIND_DETAIL


_PREFERRED = {
    LabelValue.POSITIVE: (Assertion.PRESENT,),
    LabelValue.UNCERTAIN: (Assertion.UNCERTAIN, Assertion.HYPOTHETICAL),
    LabelValue.NEGATIVE: (Assertion.NEGATED,),
    LabelValue.BLANK: (),
}


def pick_mention(mentions: Sequence[Mention], value: LabelValue) -> Mention | None:
    """The mention that gave our value (the first of its assertion), else the first one."""
    for assertion in _PREFERRED[value]:
        for m in mentions:
            if m.assertion is assertion:
                return m
    return mentions[0] if mentions else None


def fill_evidence(
    d: Disagreement, evidence: Mapping[str, Sequence[Mention]], our_row: Mapping[str, LabelValue]
) -> None:
    """Set a disagreement's evidence fields from our mentions of its label (in place)."""
    mentions = list(evidence.get(d.label, ()))
    notes = []
    if normalise_name(d.label) == NO_FINDING:
        blockers = [
            c
            for c, v in our_row.items()
            if normalise_name(c) != NO_FINDING and v in (LabelValue.POSITIVE, LabelValue.UNCERTAIN)
        ]
        if d.ours is LabelValue.POSITIVE:
            notes.append("No Finding is computed from the other labels: none of them is 1 or -1 here")
        elif blockers:
            more = f" and {len(blockers) - 4} more" if len(blockers) > 4 else ""
            notes.append(
                f"No Finding is computed from the other labels; 1 or -1 here: {', '.join(blockers[:4])}{more}"
            )
            for c in blockers:
                if evidence.get(c):
                    mentions = list(evidence[c])
                    break
    m = pick_mention(mentions, LabelValue.POSITIVE if d.ours is LabelValue.BLANK else d.ours)
    if m is not None:
        if d.ours is not LabelValue.BLANK and m.assertion not in _PREFERRED[d.ours]:
            notes.append(f"this mention is {m.assertion.value}, which does not give our value")
        elif d.ours is LabelValue.BLANK and normalise_name(d.label) != NO_FINDING:
            notes.append("our labels are blank here, but this mention was found (labels from other rules?)")
        d.section = m.section
        d.sentence = m.sentence
        d.matched = m.text
        d.cue = m.cue
        d.assertion = m.assertion.value
        if m.sentence_start >= 0:
            d.match_start = m.start - m.sentence_start
            d.match_end = m.end - m.sentence_start
            if m.cue_start >= 0:
                d.cue_start = m.cue_start - m.sentence_start
                d.cue_end = m.cue_end - m.sentence_start
        if len(mentions) > 1:
            notes.append(f"{len(mentions)} mentions; this one gave our value")
    elif d.ours is LabelValue.BLANK and not notes:
        notes.append("we found no mention of this label")
    d.evidence_note = "; ".join(notes)


def rank(disagreements: Sequence[Disagreement], label_order: Sequence[str]) -> list[Disagreement]:
    """Most informative first, and number them.

    Order: the kind (a flat conflict, then a hedge, then 0 against blank);
    those with our evidence (a reviewer can judge them from the sentence)
    before those without; then round-robin over labels (the first of each
    label, then the second of each, ...) so that no one noisy label fills the
    top of the list; then label order and report id.
    """
    position = {label: i for i, label in enumerate(label_order)}

    def within(d: Disagreement) -> tuple[int, int, tuple[tuple[int, int, str], ...]]:
        return (-d.severity, 0 if d.has_evidence else 1, natural_key(d.report_id))

    by_label: dict[str, list[Disagreement]] = {}
    for d in disagreements:
        by_label.setdefault(d.label, []).append(d)
    keyed = []
    for label, items in by_label.items():
        items.sort(key=within)
        for k, d in enumerate(items):
            keyed.append(
                (
                    (
                        -d.severity,
                        0 if d.has_evidence else 1,
                        k,
                        position.get(label, 0),
                        natural_key(d.report_id),
                    ),
                    d,
                )
            )
    keyed.sort(key=lambda kv: kv[0])
    out = [d for _, d in keyed]
    for i, d in enumerate(out, start=1):
        d.rank = i
    return out


__all__ = [
    "BASES",
    "KINDS",
    "VERDICTS",
    "Comparison",
    "Disagreement",
    "Kappa",
    "LabelResult",
    "Presence",
    "Settings",
    "SourceSummary",
    "compare",
    "fill_evidence",
    "kind_of",
    "pick_mention",
    "rank",
]
