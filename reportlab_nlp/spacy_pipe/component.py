"""The ``reportlab_nlp`` factory and component (see :mod:`reportlab_nlp.spacy_pipe`)."""

import json
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..labeler import Labeler, load
from ..types import Mention
from .extensions import CONTEXT_FLAGS, LABELS, MENTION, SECTION, VALUES, register

NAME = "reportlab_nlp"
"""The factory's name, and the span group's."""
_META = "reportlab_nlp.json"

ASSIGNS = [
    "doc.ents",
    "doc.spans",
    *(f"span._.{flag}" for flag in CONTEXT_FLAGS.values()),
    "span._.section_category",
    f"span._.{MENTION}",
    f"doc._.{LABELS}",
    f"doc._.{VALUES}",
]


class ReportLabComponent:
    """Label ``doc.text`` with the rules and set spans, entities and labels on the Doc.

    The rules load when the component first labels (or in :meth:`from_disk`), so a
    pipeline saved elsewhere loads from its own copies of the rules files.
    """

    def __init__(self, name: str, scheme: str, rules: Sequence[str], conventions: str | None) -> None:
        register()
        self.name, self.scheme, self.conventions = name, scheme, conventions
        self.rules = [str(p) for p in rules]
        self._labeler: Labeler | None = None

    @property
    def labeler(self) -> Labeler:
        """The rule labeler for the config (built on first use)."""
        if self._labeler is None:
            self._labeler = load(self.rules, scheme=self.scheme, conventions=self.conventions)
        return self._labeler

    def __call__(self, doc: Doc) -> Doc:
        labeler = self.labeler
        ours = labeler.nlp(doc.text)
        full = ours._.rl_labels
        spans = [_span(doc, m) for m in ours._.rl_asserted]
        doc.spans[self.name] = spans
        _set_ents(doc, spans)
        shaped = labeler.shape(full)
        doc._.set(LABELS, shaped)
        doc._.set(VALUES, {c: v.to_json() for c, v in shaped.labels.items()})
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterable[Doc]:
        for doc in docs:
            yield self(doc)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Save copies of the rules files (and a conventions file) and the rules hash."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        files = [_copy(p, folder, i) for i, p in enumerate(self.rules)]
        conventions = self.conventions
        if conventions is not None and Path(conventions).is_file():
            conventions = _copy(conventions, folder, len(files), stem="conventions")
        meta = {"rules": files, "conventions": conventions, "rules_hash": self.labeler.rules_hash}
        (folder / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "ReportLabComponent":
        """Load the saved rules; warn when they no longer give the saved rules hash."""
        folder = Path(path)
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        self.rules = [
            str(folder / f) if f is not None and (folder / f).is_file() else f for f in meta["rules"]
        ]
        conventions = meta["conventions"]
        if conventions is not None and (folder / conventions).is_file():
            conventions = str(folder / conventions)
        self.conventions = conventions
        self._labeler = None
        if self.labeler.rules_hash != meta["rules_hash"]:
            warnings.warn(
                f"{folder}: the saved rules now give rules hash {self.labeler.rules_hash[:12]}, "
                f"not the saved {meta['rules_hash'][:12]} (another reportlab-nlp version?): "
                "labels may differ from those of the saved pipeline",
                stacklevel=2,
            )
        return self


def _copy(source: str, folder: Path, index: int, stem: str = "rules") -> str:
    """Copy a rules file into ``folder``; a built-in profile's name is kept as it is."""
    path = Path(source)
    if not path.is_file():
        return source
    name = f"{stem}-{index}{path.suffix}"
    shutil.copyfile(path, folder / name)
    return name


def _span(doc: Doc, mention: Mention) -> Span:
    span = doc.char_span(mention.start, mention.end, label=mention.label, alignment_mode="expand")
    if span is None:  # only when the mention lies in white space the tokenizer kept apart
        span = doc.char_span(mention.start, mention.end, label=mention.label, alignment_mode="contract")
    assert span is not None, "a mention's offsets index doc.text"
    flag = CONTEXT_FLAGS.get(mention.assertion)
    if flag is not None:
        span._.set(flag, True)
    span._.set(SECTION, mention.section)
    span._.set(MENTION, mention)
    return span


def _set_ents(doc: Doc, spans: Sequence[Span]) -> None:
    """Add the mentions that overlap no other mention or existing entity to ``doc.ents``."""
    taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    free = [s for s in filter_spans(spans) if not taken.intersection(range(s.start, s.end))]
    doc.ents = sorted([*doc.ents, *free], key=lambda s: s.start)


@Language.factory(
    NAME,
    default_config={"scheme": "full", "rules": [], "conventions": None},
    assigns=ASSIGNS,
)
def make_component(
    nlp: Language, name: str, scheme: str, rules: list[str], conventions: str | None
) -> ReportLabComponent:
    """The ``reportlab_nlp`` factory (``nlp.add_pipe("reportlab_nlp", config={...})``)."""
    return ReportLabComponent(name, scheme, rules, conventions)
