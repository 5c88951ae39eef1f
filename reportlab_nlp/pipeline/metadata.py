"""Stage 2 (beside the findings): report metadata, read from the exam line or the title.

The modality (radiograph, CT, MR, ultrasound, ...) and the body region (chest,
abdomen, head, ...) of the study, as the report's EXAMINATION line, its title
(a short first line before any header) or its TECHNIQUE section names them;
the sources, their order and the wordings are in ``rules/metadata.yaml``.
Nothing here changes a label.

Sets ``doc._.rl_metadata``: a dict ``{"modality": ..., "body_region": ...,
"source": ...}`` holding only the fields found (``source`` names where the
first of them was read), empty when none was.
"""

from __future__ import annotations

from spacy.tokens import Doc

from ..rules import MetadataSettings, RuleSet
from ..types import Section
from .matching import Hit, TriggerIndex, leftmost_longest, lower_same_length

NAME = "rl_metadata"
TITLE = "title"


class MetadataReader:
    """spaCy component: the modality and body region of the study, where the report states them."""

    def __init__(self, rules: RuleSet) -> None:
        self.settings: MetadataSettings = rules.metadata
        entries = [(regex, (f.name, value)) for f in self.settings.fields for value, _, regex in f.values]
        self.index: TriggerIndex[tuple[str, str]] = TriggerIndex(entries)
        self.multiple = {f.name: f.multiple for f in self.settings.fields}
        self.order = [f.name for f in self.settings.fields]

    def title_span(self, text: str, sections: tuple[Section, ...]) -> tuple[int, int] | None:
        """The title: the first non-empty line, when it comes before any header, is short,
        is not a sentence (no final period unless in capitals) and is followed by more
        text; None otherwise."""
        first = next((s for s in sections if s.end > s.start or s.header), None)
        if first is None or first.category != "body":
            return None  # the report opens with a header (most do): no title
        start = first.start
        while start < first.end and text[start].isspace():
            start += 1
        end = text.find("\n", start, start + self.settings.title_max_chars + 1)
        if end < 0 or not text[end:].strip():
            return None
        line = text[start:end].rstrip()
        if not line:
            return None
        if line.endswith((".", "!", "?")) and not line.isupper():
            return None  # a sentence, not a title
        return start, start + len(line)

    def spans(self, text: str, sections: tuple[Section, ...]) -> list[tuple[str, int, int]]:
        """(source, start, end) of the text to read, in order of preference."""
        out: list[tuple[str, int, int]] = []
        for source in self.settings.sources:
            if source == TITLE:
                title = self.title_span(text, sections)
                if title is not None:
                    out.append((TITLE, *title))
                continue
            for s in sections:
                if s.category == source and s.end > s.start:
                    out.append((source, s.start, s.end))
        return out

    def read(self, text: str, sections: tuple[Section, ...]) -> dict[str, str]:
        """The metadata of one report (a pure function of its text and sections)."""
        if not self.settings.fields:
            return {}
        found: dict[str, str] = {}
        source = ""
        low: str | None = None
        for where, start, end in self.spans(text, sections):
            if low is None:
                low = lower_same_length(text)
            hits_by_field: dict[str, list[Hit[tuple[str, str]]]] = {}
            for hit in self.index.find(text, low, start, end):
                hits_by_field.setdefault(hit.payload[0], []).append(hit)
            by_field: dict[str, list[str]] = {}
            for name, hits in hits_by_field.items():
                values = by_field.setdefault(name, [])
                for hit in leftmost_longest(hits):  # overlapping wordings: the longest
                    if hit.payload[1] not in values:
                        values.append(hit.payload[1])
            for name, values in by_field.items():
                if name in found:
                    continue
                found[name] = self.settings.separator.join(values) if self.multiple[name] else values[0]
                source = source or where
            if len(found) == len(self.order):
                break
        if not found:
            return {}
        out = {name: found[name] for name in self.order if name in found}
        out["source"] = source
        return out

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        ext.rl_metadata = self.read(ext.rl_text, ext.rl_sections)
        return doc
