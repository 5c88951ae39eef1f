"""Request and response bodies of the service (pydantic), and so its OpenAPI document.

Requests are strict: unknown fields are errors, a report gives ``text`` or
``sections`` (exactly one), and the limits that depend on the settings
(``maxLength`` of a report's text, ``maxItems`` of a batch, the ``scheme`` and
``engine`` values this server runs) are written into the OpenAPI document by
:func:`reportlab_nlp.service.app.create_app`. Responses mirror the JSONL record
of ``reportlab-nlp label`` (labels and evidence keyed by the scheme's columns)
plus ``probabilities`` (model engines; null for ``rules``) and ``provenance``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

LabelNumber = Literal[1, 0, -1]
EngineName = Literal["rules", "model", "hybrid"]
AssertionName = Literal["present", "negated", "uncertain", "hypothetical", "historical"]

SECTION_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9 _-]{0,63}$"
MAX_ID_CHARS = 256
MAX_SECTIONS = 32
MAX_INT_ID = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _id_to_str(value: object) -> object:
    """An integer id (not a boolean; ``7.0`` is an integer in JSON) is answered as its decimal string."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_INT_ID - 1 <= value <= MAX_INT_ID:
            raise ValueError(f"an integer id must fit in 64 bits ({-MAX_INT_ID - 1} to {MAX_INT_ID})")
        return str(value)
    return value


def no_lone_surrogate(value: str) -> str:
    """Refuse text holding a lone UTF-16 surrogate (``"\\ud800"`` in JSON): it is not Unicode text."""
    found = _SURROGATE.search(value)
    if found is not None:
        raise ValueError(
            f"holds a lone surrogate (U+{ord(found.group()):04X}) at character {found.start()}: "
            "JSON escapes \\ud800-\\udfff must come in valid pairs"
        )
    return value


def _string_or_integer(schema: dict[str, Any]) -> None:
    """JSON schema of an id: a string of 1 to 256 characters, or a 64-bit integer."""
    for key in ("type", "minLength", "maxLength"):
        schema.pop(key, None)
    schema["anyOf"] = [
        {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
        {"type": "integer", "minimum": -MAX_INT_ID - 1, "maximum": MAX_INT_ID},
    ]


ReportId = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)],
    BeforeValidator(_id_to_str),
    Field(
        description="The caller's id of the report, returned as a string (an integer id is accepted "
        "and answered as its decimal digits).",
        examples=["study-0001"],
        json_schema_extra=lambda schema: _string_or_integer(schema),
    ),
]


def _text_or_sections(schema: dict[str, Any]) -> None:
    """JSON schema of a report: ``text`` and ``sections`` are never null, and exactly one is given."""
    props = schema.get("properties", {})
    for key in ("text", "sections"):
        prop = props.get(key)
        if prop is None:
            continue
        branches = [s for s in prop.pop("anyOf", []) if s.get("type") != "null"]
        if len(branches) == 1:
            prop.update(branches[0])
        prop.pop("default", None)
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["sections"]}]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------


class SectionIn(_Strict):
    """One section of a report sent in parts: its name (the header the labeler reads) and its text."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=SECTION_NAME_PATTERN,
        description="Section name, read as its header: findings, impression, indication, comparison, ...",
        examples=["findings"],
    )
    text: str = Field(description="The section's text.", examples=["Small left pleural effusion."])

    @field_validator("text")
    @classmethod
    def _unicode(cls, value: str) -> str:
        return no_lone_surrogate(value)


class ReportIn(_Strict):
    """One report: an id and either its ``text`` or its ``sections`` (joined with a header each)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_text_or_sections)

    id: ReportId
    text: str | None = Field(
        default=None,
        description="The report's text. Give this or sections, not both.",
        examples=["FINDINGS: Small left pleural effusion. No pneumothorax."],
    )
    sections: list[SectionIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SECTIONS,
        description="The report in sections, joined in order as 'NAME:\\n<text>' separated by a blank "
        "line (offsets index the joined text; see fields in the response). Give this or text. "
        "The per-report character limit applies to the sections' texts together.",
    )

    @field_validator("text", "sections", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the field out instead")
        return value

    @field_validator("id", "text")
    @classmethod
    def _unicode(cls, value: str | None) -> str | None:
        return None if value is None else no_lone_surrogate(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> ReportIn:
        has_text = self.text is not None
        has_sections = self.sections is not None
        if has_text == has_sections:
            which = "both were given" if has_text else "neither was given"
            raise ValueError(f"a report needs exactly one of 'text' and 'sections': {which}")
        return self

    def char_count(self) -> int:
        """Characters of the report's text (of its sections' texts together)."""
        if self.text is not None:
            return len(self.text)
        return sum(len(s.text) for s in self.sections or ())


class LabelRequest(ReportIn):
    """``POST /v1/label``: one report, and optionally the scheme and engine to use."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_text_or_sections)

    scheme: str | None = Field(
        default=None,
        description="Label scheme of the response's columns (GET /v1/labels lists them); "
        "default: the server's (REPORTLAB_SCHEME, normally full).",
    )
    engine: EngineName | None = Field(
        default=None,
        description="Engine to label with; default: the server's. Only engines this server runs are "
        "accepted (GET /readyz lists them).",
    )


class BatchRequest(_Strict):
    """``POST /v1/label/batch``: several reports, labeled with one scheme and engine."""

    reports: list[ReportIn] = Field(
        min_length=1,
        description="The reports, answered in the same order; at most REPORTLAB_MAX_BATCH (413 beyond).",
    )
    scheme: str | None = Field(default=None, description="As in POST /v1/label.")
    engine: EngineName | None = Field(default=None, description="As in POST /v1/label.")


# ---------------------------------------------------------------------------
# responses
# ---------------------------------------------------------------------------


class Evidence(_Strict):
    """One mention behind a label: ``text[start:end]`` of the labeled text, with its sentence and cue."""

    text: str
    start: int
    end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    section: str
    assertion: AssertionName
    cue: str = Field(description="The cue that negated/qualified the mention; empty for a plain positive.")
    cue_start: int
    cue_end: int
    rule: str = Field(description="The lexicon entry that matched.")
    source: str = Field(description="What produced the mention: rules (a model-only label says model).")
    attributes: dict[str, str] = Field(description="Modifiers stated for the mention: laterality, ...")
    attribute_spans: dict[str, list[int]] = Field(
        description="Offsets [start, end] of each attribute's words."
    )


class SectionOut(_Strict):
    """A section found in the report: ``text[start:end]`` is its body."""

    category: str
    start: int
    end: int
    header: str
    header_start: int
    header_end: int
    read: bool = Field(description="Whether the labeler reads this section for findings.")


class CategoryOut(_Strict):
    """A categorical label's value in the report (None when the report states none)."""

    value: str | None
    export: dict[str, dict[str, str]]
    evidence: list[Evidence]


class FieldSpan(_Strict):
    """Where a section sent in ``sections`` lies in the joined text."""

    name: str
    start: int
    end: int


class Provenance(_Strict):
    """What produced the labels."""

    toolkit: str = Field(examples=["reportlab-nlp"])
    toolkit_version: str
    engine: str
    rules_hash: str = Field(description="sha256 of the rules in force.")
    model_sha256: str | None = Field(description="sha256 of the model file; null for the rules engine.")
    scheme: str


class ReviewOut(_Strict):
    """Hybrid engine: a column where the rules and the model disagree on presence, for a person to review."""

    label: str = Field(description="The column (the label's name in the scheme).")
    rules: LabelNumber | None = Field(description="The rules' value.")
    model: LabelNumber | None = Field(description="The model's value at the label's threshold.")
    probability: float = Field(description="The model's calibrated probability that the finding is present.")
    threshold: float | None = Field(description="The label's threshold; null: the model is off for it.")
    final: LabelNumber | None = Field(description="The value the hybrid returned.")
    decided_by: Literal["rules", "model"]


class LabelResult(_Strict):
    """The labels of one report under a scheme, with their evidence."""

    id: str
    scheme: str
    engine: str
    labels: dict[str, LabelNumber | None] = Field(
        description="One entry per column of the scheme: 1 present, 0 absent, -1 uncertain, "
        "null not mentioned."
    )
    probabilities: dict[str, float] | None = Field(
        description="Model engines: probability that each column's finding is present. "
        "Null for the rules engine."
    )
    review: list[ReviewOut] | None = Field(
        default=None,
        description="Hybrid engine: the columns where rules and model disagree on presence (empty when "
        "they agree). Null for the other engines.",
    )
    evidence: dict[str, list[Evidence]] = Field(description="The mentions behind each non-blank column.")
    warnings: list[str]
    sections: list[SectionOut]
    metadata: dict[str, str] | None = Field(description="What the exam line says: modality, body_region.")
    categories: dict[str, CategoryOut] | None
    text_length: int = Field(description="Characters of the labeled text (offsets index it).")
    fields: list[FieldSpan] | None = Field(
        description="For a report sent as sections: where each section's text lies in the joined text."
    )


class LabelResponse(LabelResult):
    """``POST /v1/label``: the result and its provenance."""

    provenance: Provenance


class BatchResponse(_Strict):
    """``POST /v1/label/batch``: one result per report, in the order sent."""

    count: int
    results: list[LabelResult]
    provenance: Provenance


class LabelInfo(_Strict):
    """A label of the full set."""

    label: str
    definition: str
    parents: list[str] = Field(description="Labels this one implies (its parents in the hierarchy).")
    codes: dict[str, list[str]] = Field(description="Codes by system, e.g. SCT.")


class ColumnInfo(_Strict):
    """A column of a scheme and the label of the full set it shows."""

    column: str
    label: str


class SchemeInfo(_Strict):
    """A label scheme: the columns of a response."""

    name: str
    description: str
    no_finding: str = Field(description="When 'No Finding' is 1: pathology or any.")
    columns: list[ColumnInfo]
    categories: list[str]


class CategoryValueInfo(_Strict):
    """A value of a categorical label."""

    value: str
    definition: str


class CategoryInfo(_Strict):
    """A categorical label: one value per report."""

    name: str
    definition: str
    values: list[CategoryValueInfo]


class ValueInfo(_Strict):
    """A label value and its meaning."""

    value: LabelNumber | None
    name: str
    meaning: str


class LabelsResponse(_Strict):
    """``GET /v1/labels``: the label set, values, schemes and categorical labels, with definitions."""

    default_scheme: str
    engines: list[str] = Field(description="Engines this server runs.")
    values: list[ValueInfo]
    labels: list[LabelInfo]
    schemes: list[SchemeInfo]
    categories: list[CategoryInfo]
    rules_hash: str


class HealthResponse(_Strict):
    """``GET /healthz``: the process answers."""

    status: Literal["ok"]


class ReadyResponse(_Strict):
    """``GET /readyz``: whether the engine is loaded and warmed up."""

    status: Literal["ready", "not ready"]
    engine: str
    engines: list[str]
    warmed_up: bool


class ErrorDetail(_Strict):
    """One problem with a request: where (``loc``), what (``msg``) and its kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(_Strict):
    """Every error: a short code, a message for people and, for 422, the problems field by field."""

    error: str = Field(examples=["validation_error"])
    message: str
    detail: list[ErrorDetail] = Field(default_factory=list)


__all__ = [
    "MAX_ID_CHARS",
    "MAX_SECTIONS",
    "BatchRequest",
    "BatchResponse",
    "CategoryInfo",
    "CategoryOut",
    "CategoryValueInfo",
    "ColumnInfo",
    "EngineName",
    "ErrorDetail",
    "ErrorResponse",
    "Evidence",
    "FieldSpan",
    "HealthResponse",
    "LabelInfo",
    "LabelRequest",
    "LabelResponse",
    "LabelResult",
    "LabelsResponse",
    "Provenance",
    "ReadyResponse",
    "ReportIn",
    "SchemeInfo",
    "SectionIn",
    "SectionOut",
    "ValueInfo",
]
