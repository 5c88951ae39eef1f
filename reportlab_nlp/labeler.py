"""The labeler: rules + pipeline behind ``label(text)`` and ``pipe(texts)``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .pipeline import build_pipeline
from .rules import RuleSet, Scheme, load_rules, with_conventions
from .schemes import columns, scheme_of, scheme_values, shape
from .types import LabelValue, Report, ReportLabels

T = TypeVar("T")


class Labeler:
    """Label radiology reports with the rule pipeline.

    Parameters
    ----------
    rules
        A loaded :class:`~reportlab_nlp.rules.RuleSet` (see :func:`reportlab_nlp.load`).
    scheme
        The output scheme (``full``, ``chexpert``, ``chestxray14``, ``chest-ct``, ...): what
        :meth:`label` and :meth:`pipe` return is keyed by its columns, named as it names them.

    Examples
    --------
    >>> import reportlab_nlp
    >>> labeler = reportlab_nlp.load()
    >>> labeler.label("No pleural effusion. Mild cardiomegaly.").labels["Cardiomegaly"]
    <LabelValue.POSITIVE: 1>
    >>> nih = reportlab_nlp.load(scheme="chestxray14").label("Small left pleural effusion.")
    >>> nih.labels["Effusion"], len(nih.labels)
    (<LabelValue.POSITIVE: 1>, 15)
    """

    def __init__(self, rules: RuleSet, *, scheme: str = "full") -> None:
        self.rules = rules
        self.scheme = self.get_scheme(scheme).name
        self.nlp = build_pipeline(rules)
        self.rules_hash = rules.digest()
        self.conventions = rules.conventions.name
        """The convention profile the rules carry (``full``, ``chexpert``, ``chestxray14``, ``none``)."""

    @property
    def labels(self) -> list[str]:
        """The full label set, in order."""
        return self.rules.labels

    def get_scheme(self, name: str | None = None) -> Scheme:
        """Return a scheme by name (default: this labeler's)."""
        return scheme_of(self.rules, name or self.scheme)

    def columns(self, scheme: str | None = None) -> list[str]:
        """Output column names of a scheme."""
        return columns(self.rules, scheme or self.scheme)

    def category_columns(self, scheme: str | None = None) -> list[str]:
        """The categorical labels a scheme carries (CSV columns after the label columns)."""
        return list(self.get_scheme(scheme).categories)

    def values(self, report: ReportLabels, scheme: str | None = None) -> list[tuple[str, str, LabelValue]]:
        """(column, label, value) triples of ``report`` under a scheme (default: this labeler's).

        ``report`` is what :meth:`label` returned, in any scheme: it keeps the full label set.
        """
        return scheme_values(self.rules, report, scheme or self.scheme)

    def shape(self, report: ReportLabels, scheme: str | None = None) -> ReportLabels:
        """``report`` under a scheme (default: this labeler's); see :func:`reportlab_nlp.schemes.shape`."""
        return shape(self.rules, report, scheme or self.scheme)

    def label(self, text: str, *, id: str = "") -> ReportLabels:
        """Label one report's text, under this labeler's scheme (see :meth:`shape`)."""
        return self.shape(self.label_all(text, id=id))

    def label_all(self, text: str, *, id: str = "") -> ReportLabels:
        """Label one report's text over the full label set, whatever the scheme."""
        doc = self.nlp(text)
        result: ReportLabels = doc._.rl_labels
        return _with_id(result, id)

    def pipe(self, texts: Iterable[str | Report], *, batch_size: int = 64) -> Iterator[ReportLabels]:
        """Label many reports lazily, in order, under this labeler's scheme (texts or :class:`Report` s)."""
        for result, _ in self.pipe_with(((t, None) for t in texts), batch_size=batch_size):
            yield self.shape(result)

    def pipe_with(
        self, items: Iterable[tuple[str | Report, T]], *, batch_size: int = 64
    ) -> Iterator[tuple[ReportLabels, T]]:
        """Like :meth:`pipe` for ``(text or Report, context)`` pairs; yields ``(labels, context)``.

        The labels are over the full label set, as :meth:`label_all`'s (the batch
        runner and the exports project them with :meth:`values`).
        """
        ids: list[tuple[str, T]] = []

        def texts() -> Iterator[str]:
            for n, (item, context) in enumerate(items):
                if isinstance(item, Report):
                    ids.append((item.id, context))
                    yield item.text
                else:
                    ids.append((str(n), context))
                    yield item

        for i, doc in enumerate(self.nlp.pipe(texts(), batch_size=batch_size)):
            report_id, context = ids[i]
            ids[i] = ("", context)  # let go of what is done
            yield _with_id(doc._.rl_labels, report_id), context


def _with_id(report: ReportLabels, id: str) -> ReportLabels:
    return replace(report, id=id)


def load(
    rules: Sequence[str | Path] | str | Path | None = None,
    *,
    scheme: str = "full",
    conventions: str | None = None,
) -> Labeler:
    """Build a rule labeler.

    Parameters
    ----------
    rules
        Paths of user rules files applied over the built-in rules (``--rules``).
    scheme
        Default output scheme; its convention profile (``rules/profiles/``) is applied.
    conventions
        Another convention profile (a name or a path), or ``"none"`` (``--conventions``).
    """
    extra: Sequence[str | Path]
    if rules is None:
        extra = ()
    elif isinstance(rules, str | Path):
        extra = (rules,)
    else:
        extra = tuple(rules)
    return Labeler(load_rules(with_conventions(extra, scheme, conventions)), scheme=scheme)
