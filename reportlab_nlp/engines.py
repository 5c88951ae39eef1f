"""Labeling engines behind one interface: ``rules`` now, ``model`` and ``hybrid`` with the classifier.

An :class:`Engine` turns :class:`~reportlab_nlp.types.Report` s into
:class:`Prediction` s: the report's labels over the full label set (a
:class:`~reportlab_nlp.types.ReportLabels`, evidence included) and, for the
engines that run a model, a probability per label. The command line, the batch
runner and the service hold an engine and never care which one it is.

An engine follows the estimator rule of the package: the constructor only
stores settings; :meth:`Engine.load` does the heavy work (compiling the rules,
opening the ONNX session) and :meth:`Engine.warm_up` runs one inference so
that the first real request is not the slow one. :func:`get_engine` picks an
engine by name and fails at once, with :class:`EngineUnavailableError`, when
the engine cannot run here.

``model`` and ``hybrid`` need the transformer classifier (``models/<name>/``:
``model.onnx``, ``model.int8.onnx``, ``tokenizer.json``, ``manifest.json``;
built by ``reportlab-nlp export-model`` or ``make model``, and run with the
``model`` extra: onnxruntime, tokenizers, numpy; no torch).
:class:`ModelEngine` gives every label the model's value and calibrated
probability; :class:`HybridEngine` combines the rules and the model by the
policy of :mod:`reportlab_nlp.classifier.hybrid` and flags every disagreement
(:attr:`Prediction.review`). Without a model, :func:`get_engine` raises
:class:`EngineUnavailableError` naming ``models/`` and ``make model``.

Examples
--------
>>> from reportlab_nlp.engines import get_engine
>>> from reportlab_nlp.types import Report
>>> engine = get_engine("rules")
>>> engine.warm_up()
>>> engine.label(Report("r1", "FINDINGS: No pneumothorax.")).labels["Pneumothorax"]
<LabelValue.NEGATIVE: 0>
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, Union, cast

from ._version import __version__
from .classifier.hybrid import ReviewFlag, combine, model_mention
from .constants import ENGINE_NAMES, MODEL_MANIFEST, TOOLKIT
from .errors import EngineUnavailableError, ModelError
from .labeler import Labeler
from .modelpath import DEFAULT_MODEL_DIR, MODEL_DIR_ENV, model_search_path
from .pipeline.labels import NO_FINDING, no_finding
from .rules import RuleSet, Scheme, load_rules
from .schemes import columns, scheme_of, scheme_values
from .types import LabelValue, Report, ReportLabels

WARM_UP_TEXT = (
    "EXAMINATION: Chest radiograph.\n"
    "FINDINGS: Heart size is normal. Small left pleural effusion. No pneumothorax.\n"
    "IMPRESSION: Possible early pneumonia."
)
"""An invented report that exercises every stage; labeled once by :meth:`Engine.warm_up`."""

RulesArg = Sequence[str | Path] | str | Path | RuleSet | None
"""User rules files over the built-in rules (as ``--rules``), or a loaded :class:`RuleSet`."""

STREAM_BATCH_SIZE = 256
"""Reports per :meth:`Engine.predict_many` call in :meth:`Engine.stream` (the batch runner's chunk)."""

Outcome = Union["Prediction", Exception]
"""What :meth:`Engine.stream` gives a report: its prediction, or the exception labeling it raised."""


@dataclass(frozen=True)
class Prediction:
    """The result of one report from an engine.

    Attributes
    ----------
    labels
        The report's labels over the full label set, with their evidence.
    probabilities
        For engines that run a model: the probability of each label being
        present (by label name of the full set); None for the rule engine.
    """

    labels: ReportLabels
    probabilities: Mapping[str, float] | None = None
    review: tuple[ReviewFlag, ...] = ()
    """Hybrid engine: the labels where the rules and the model disagree on presence (for review)."""

    def extra_record(self, values: Sequence[tuple[str, str, LabelValue]]) -> dict[str, Any]:
        """What a model engine adds to a JSONL record under a scheme's columns.

        ``probabilities`` (column: probability of presence) and, for the hybrid,
        ``review`` (one entry per disagreement, by column); empty for the rules engine.
        """
        if self.probabilities is None:
            return {}
        probs = self.probabilities
        column_of = {label: col for col, label, _ in values}
        record: dict[str, Any] = {
            "probabilities": {
                col: round(float(probs[label]), 4) for col, label, _ in values if label in probs
            }
        }
        record["review"] = [f.to_dict(column_of[f.label]) for f in self.review if f.label in column_of]
        from .review.score import prediction_scores  # the review queue (reportlab_nlp/review)

        record["review_score"] = prediction_scores(self.labels, values, record)
        return record


class Engine(abc.ABC):
    """A labeling engine: reports in, labels (and probabilities) out.

    Parameters
    ----------
    rules
        Paths of user rules files applied over the built-in rules (as ``--rules``),
        or rules already loaded. Every engine reads the rules: for its label set
        and schemes, and the rule engine for labeling.

    Notes
    -----
    Subclasses set :attr:`name`, implement :meth:`_load` and :meth:`predict_many`,
    and may override :meth:`provenance`. Calls from several threads are safe for
    :meth:`load` and :meth:`warm_up`; the service runs inference from one
    thread at a time.
    """

    name: ClassVar[str]
    """The engine's name: ``rules``, ``model`` or ``hybrid``."""

    micro_batching: ClassVar[bool] = False
    """Whether labeling several reports in one :meth:`predict_many` call is cheaper than one by one.

    The service combines concurrent requests into one call when this is true
    (a model engine pads and runs a batch in about the time of one report); the
    rule engine labels report by report either way, so it is false there.
    """

    batch_size: ClassVar[int] = 64
    """The largest number of reports worth passing to one :meth:`predict_many` call."""

    def __init__(self, *, rules: RulesArg = None) -> None:
        self.rule_paths: tuple[str | Path, ...] = () if isinstance(rules, RuleSet) else _rule_paths(rules)
        self._given_rules = rules if isinstance(rules, RuleSet) else None
        self._rules: RuleSet | None = None
        self._rules_hash = ""
        self._loaded = False
        self._ready = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once :meth:`load` has run."""
        return self._loaded

    @property
    def ready(self) -> bool:
        """True once the engine is loaded and one warm-up inference has run."""
        return self._ready

    def load(self) -> None:
        """Do the heavy work once (compile the rules, open a model); later calls return at once.

        Raises
        ------
        RulesError
            If a rules file is invalid.
        EngineUnavailableError
            If the engine's model or extra is missing.
        """
        with self._lock:
            if self._loaded:
                return
            self._rules = self._given_rules or load_rules(self.rule_paths)
            self._rules_hash = self._rules.digest()
            self._load(self._rules)
            self._loaded = True

    def warm_up(self) -> None:
        """Load, then label one invented report so that the first request pays no first-call cost."""
        self.load()
        self.predict_many([Report("warm-up", WARM_UP_TEXT)])
        self._ready = True

    @abc.abstractmethod
    def _load(self, rules: RuleSet) -> None:
        """Build what inference needs from the loaded rules (called once, under a lock)."""

    # -- inference ---------------------------------------------------------

    @abc.abstractmethod
    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        """Label reports in order: one :class:`Prediction` per report (loads the engine if needed)."""

    def label_many(self, reports: Sequence[Report]) -> list[ReportLabels]:
        """Label reports in order; the labels only (see :meth:`predict_many` for probabilities)."""
        return [p.labels for p in self.predict_many(reports)]

    def label(self, report: Report) -> ReportLabels:
        """Label one report."""
        return self.label_many([report])[0]

    def predict_each(self, reports: Sequence[Report]) -> list[Outcome]:
        """:meth:`predict_many`, failure-isolated: a report that raises gets its exception.

        The reports are labeled in one call; when that call raises, one at a time
        (to find the report that broke it).
        """
        try:
            return list(self.predict_many(reports))
        except Exception:
            out: list[Outcome] = []
            for report in reports:
                try:
                    out.append(self.predict_many([report])[0])
                except Exception as e:
                    out.append(e)
            return out

    def stream(
        self, reports: Iterable[Report], batch_size: int = STREAM_BATCH_SIZE
    ) -> Iterator[tuple[Report, Outcome]]:
        """Label ``reports`` lazily, in input order: ``(report, prediction or exception)`` pairs.

        The one labeling loop of every command (``label``, ``export``, ``compare``,
        ``spark-label``, ...): reads ``batch_size`` reports at a time and labels
        them with :meth:`predict_each`, so a report that fails does not take its
        batch with it; the caller decides what a failure means (skip it, list it,
        raise it).

        Examples
        --------
        >>> engine = get_engine("rules")
        >>> pairs = engine.stream([Report("a", "No pneumothorax.")])
        >>> [(r.id, o.labels.labels["Pneumothorax"]) for r, o in pairs]
        [('a', <LabelValue.NEGATIVE: 0>)]
        """
        chunk: list[Report] = []
        for report in reports:
            chunk.append(report)
            if len(chunk) >= batch_size:
                yield from zip(chunk, self.predict_each(chunk), strict=True)
                chunk = []
        if chunk:
            yield from zip(chunk, self.predict_each(chunk), strict=True)

    # -- label set ---------------------------------------------------------

    def _after_load(self, attribute: str, *, until_loaded: bool = False) -> Any:
        """``self.<attribute>``, loading the engine first if it is unset (``until_loaded``: or not loaded)."""
        if getattr(self, attribute) is None or (until_loaded and not self._loaded):
            self.load()
        value = getattr(self, attribute)
        assert value is not None  # set by load()
        return value

    @property
    def rules(self) -> RuleSet:
        """The loaded rules: label set, schemes, definitions (loads the engine if needed)."""
        return cast(RuleSet, self._after_load("_rules"))

    def scheme(self, name: str) -> Scheme:
        """A label scheme by name.

        Raises
        ------
        SchemeError
            If the rules define no scheme of that name.
        """
        return scheme_of(self.rules, name)

    def columns(self, scheme: str) -> list[str]:
        """Output column names of a scheme."""
        return columns(self.rules, scheme)

    def category_columns(self, scheme: str) -> list[str]:
        """The categorical labels a scheme carries (CSV columns after the label columns)."""
        return list(self.scheme(scheme).categories)

    def values(self, labels: ReportLabels, scheme: str) -> list[tuple[str, str, LabelValue]]:
        """(column, label, value) triples of a result (its full label set) under a scheme's columns."""
        return scheme_values(self.rules, labels, scheme)

    # -- provenance --------------------------------------------------------

    def model_sha256(self) -> str | None:
        """sha256 of the model file this engine runs; None for an engine without a model."""
        return None

    @property
    def rules_hash(self) -> str:
        """sha256 of the loaded rules (:meth:`~reportlab_nlp.rules.RuleSet.digest`)."""
        if not self._loaded:
            self.load()
        return self._rules_hash

    def provenance(self) -> dict[str, Any]:
        """What produced the labels: toolkit and version, engine, rules hash, model sha256 (or None)."""
        return {
            "toolkit": TOOLKIT,
            "toolkit_version": __version__,
            "engine": self.name,
            "rules_hash": self.rules_hash,
            "model_sha256": self.model_sha256(),
        }


class RulesEngine(Engine):
    """The rule labeler (:func:`reportlab_nlp.load`) as an engine: no probabilities.

    Examples
    --------
    >>> engine = RulesEngine()
    >>> [p.probabilities for p in engine.predict_many([Report("a", "No effusion.")])]
    [None]
    """

    name = "rules"
    micro_batching = False

    def __init__(self, *, rules: RulesArg = None) -> None:
        super().__init__(rules=rules)
        self._labeler: Labeler | None = None

    @classmethod
    def from_labeler(cls, labeler: Labeler) -> Self:
        """An engine around a labeler already built (its rules, its pipeline), loaded at once."""
        engine = cls()
        with engine._lock:
            engine._rules = labeler.rules
            engine._rules_hash = labeler.rules_hash
            engine._labeler = labeler
            engine._loaded = True
        return engine

    def _load(self, rules: RuleSet) -> None:
        self._labeler = Labeler(rules)

    @property
    def labeler(self) -> Labeler:
        """The underlying :class:`~reportlab_nlp.Labeler` (loads the engine if needed)."""
        return cast(Labeler, self._after_load("_labeler"))

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        # over the full label set whatever the labeler's scheme (values() projects it)
        pairs = ((r, None) for r in reports)
        labeled = self.labeler.pipe_with(pairs, batch_size=max(1, len(reports)))
        return [Prediction(result) for result, _ in labeled]


def find_models(model_dir: str | Path | None = None) -> list[Path]:
    """Model folders (those holding a ``manifest.json``) in ``model_dir`` or its direct subfolders.

    Parameters
    ----------
    model_dir
        A model folder or a folder of model folders; default ``models/`` in the
        working folder.
    """
    root = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if (root / MODEL_MANIFEST).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MODEL_MANIFEST).is_file())


MODEL_HINT = (
    "or make one: a model folder is made by `make model` (train on the Open-i development reports, "
    "export, quantize, calibrate) or by `reportlab-nlp train` then `reportlab-nlp export-model`, "
    "and run with pip install 'reportlab-nlp[model]'; until a model is installed, use the rules engine "
    "(--engine rules, REPORTLAB_ENGINE=rules)"
)


def resolve_model(name: str, model_dir: str | Path | None = None) -> Path:
    """The model folder an engine called ``name`` runs: ``model_dir`` itself, or its only model subfolder.

    Raises
    ------
    EngineUnavailableError
        No model there, several (name one), or a malformed manifest.
    """
    from .classifier.manifest import read_manifest

    name_it = f"name a model folder with --model DIR (or ${MODEL_DIR_ENV})"
    if model_dir is not None:
        root = Path(model_dir)
        found = find_models(root)
        if not found:
            raise EngineUnavailableError(
                name,
                f"no model is installed under {root}/ (looked for {root}/<name>/{MODEL_MANIFEST} in "
                f"{root.resolve()}); {name_it}; {MODEL_HINT}",
            )
    else:
        places = model_search_path()
        root, found = places[-1], []
        for root in places:
            found = find_models(root)
            if found:
                break
        if not found:
            looked = ", ".join(str(p.resolve()) for p in places)
            raise EngineUnavailableError(
                name,
                f"no model found (looked for <name>/{MODEL_MANIFEST} in {looked}); {name_it}; {MODEL_HINT}",
            )
    if len(found) > 1:
        raise EngineUnavailableError(
            name,
            f"several models are installed under {root}/: {', '.join(p.name for p in found)}; "
            f"name one (--model {found[0]}, ${MODEL_DIR_ENV})",
        )
    try:
        read_manifest(found[0])
    except ModelError as e:
        raise EngineUnavailableError(name, f"{e}; {MODEL_HINT}") from e
    return found[0]


def _model_extra_missing() -> str | None:
    import importlib.util

    for module in ("onnxruntime", "tokenizers", "numpy"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


class ModelEngine(Engine):
    """The transformer classifier alone: each label gets the model's value and calibrated probability.

    Parameters
    ----------
    rules
        User rules files (for the label set and schemes; the rules do not label here).
    model_dir
        The model folder, or a folder holding exactly one (default ``models/``).
    variant
        ``int8`` (default) or ``fp32``.
    threads
        ONNX Runtime intra-op threads (None: its default).

    Notes
    -----
    A label's value is the model's at its threshold from the manifest (0.5
    where the hybrid keeps the model off): present (1, or -1 when its uncertain
    class outweighs positive) when the calibrated probability of presence
    reaches it, else 0 or blank, whichever class is likelier. ``No Finding`` is
    derived from the other values as the rules derive it. Evidence: one record
    per non-blank label with ``source: "model"`` and no span. The model sees no
    sections: ``sections`` is empty.
    """

    name = "model"
    micro_batching = True
    batch_size = 8
    """Reports per ONNX Runtime call. The reports of one ``predict_many`` are sorted by
    length first, so small calls pad little: with the 32-report chunks of a service
    batch, int8 MiniLM ran at about 250 reports/s in calls of 8 and 135 in calls of 32
    (calls of 32 pad every report to the longest of a random 32)."""

    def __init__(
        self,
        *,
        rules: RulesArg = None,
        model_dir: str | Path | None = None,
        variant: str = "int8",
        threads: int | None = None,
    ) -> None:
        super().__init__(rules=rules)
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.variant = variant
        self.threads = threads
        self._session: Any = None

    def _load(self, rules: RuleSet) -> None:
        from .classifier.session import ModelSession

        session = ModelSession(
            self.model_dir, variant=self.variant, threads=self.threads, batch_size=self.batch_size
        )
        try:
            session.load()
        except ImportError as e:
            raise EngineUnavailableError(
                self.name, f"the model extra is not installed ({e.name}): pip install 'reportlab-nlp[model]'"
            ) from e
        unknown = [label for label in session.labels if label not in rules.labels]
        if unknown:
            raise EngineUnavailableError(
                self.name,
                f"the model at {self.model_dir} predicts label(s) the rules do not define: "
                f"{', '.join(unknown[:5])}; load it with the rules it was trained with",
            )
        self._session = session

    @property
    def session(self) -> Any:
        """The :class:`~reportlab_nlp.classifier.session.ModelSession` (loads the engine if needed)."""
        return self._after_load("_session")

    def model_sha256(self) -> str | None:
        return str(self.session.sha256)

    def run_model(self, reports: Sequence[Report], *, values: bool = True) -> Any:
        """The model's outputs (:class:`~reportlab_nlp.classifier.session.ModelOutput`) for ``reports``."""
        return self.session.predict([r.text for r in reports], values=values)

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        session = self.session
        out = self.run_model(reports)
        blockers = self.rules.no_finding_blockers
        results = []
        for i, report in enumerate(reports):
            values = dict.fromkeys(self.rules.labels, LabelValue.BLANK)
            evidence: dict[str, tuple[Any, ...]] = {}
            for j, label in enumerate(session.labels):
                v = out.values[i][j]
                if label == NO_FINDING:
                    continue
                values[label] = v
                if v is not LabelValue.BLANK:
                    evidence[label] = (model_mention(label, v, session.name),)
            if NO_FINDING in values:
                values[NO_FINDING] = no_finding(values, blockers)
            probabilities = dict(zip(session.labels, out.present[i].tolist(), strict=True))
            results.append(Prediction(ReportLabels(report.id, values, evidence), probabilities))
        return results


class HybridEngine(ModelEngine):
    """Rules and model combined by the documented policy (:mod:`reportlab_nlp.classifier.hybrid`).

    The rules decide where they found a definite mention (1 or 0); where they
    gave -1 or blank, the model's calibrated probability decides at the
    label's threshold (chosen on held-out reports; labels where the model did
    not beat the rules stay with the rules). Every rules/model disagreement on
    presence is listed in :attr:`Prediction.review`. The rules' evidence is
    kept; a value the model decided adds a ``source: "model"`` record with no span.

    Parameters
    ----------
    rules, model_dir, variant, threads
        As :class:`ModelEngine`.
    labeler
        A rule labeler already built (its rules are used); None: built on :meth:`load`.
    """

    name = "hybrid"

    def __init__(
        self,
        *,
        rules: RulesArg = None,
        model_dir: str | Path | None = None,
        variant: str = "int8",
        threads: int | None = None,
        labeler: Labeler | None = None,
    ) -> None:
        super().__init__(rules=rules, model_dir=model_dir, variant=variant, threads=threads)
        self._labeler = labeler
        if labeler is not None:
            self._rules = labeler.rules

    def load(self) -> None:
        if self._labeler is not None and not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._rules = self._labeler.rules
                    self._rules_hash = self._labeler.rules_hash
                    self._load(self._rules)
                    self._loaded = True
            return
        super().load()

    def _load(self, rules: RuleSet) -> None:
        super()._load(rules)
        if self._labeler is None:
            self._labeler = Labeler(rules)

    @property
    def labeler(self) -> Labeler:
        """The rule labeler (loads the engine if needed)."""
        return cast(Labeler, self._after_load("_labeler", until_loaded=True))

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        labeler = self.labeler
        session = self.session
        rule_results = list(labeler.pipe(list(reports), batch_size=max(1, len(reports))))
        out = self.run_model(reports, values=False)
        thresholds = session.thresholds
        blockers = self.rules.no_finding_blockers
        results = []
        all_probs, all_present = out.probs.tolist(), out.present.tolist()
        for i, rules_labels in enumerate(rule_results):
            probs = dict(zip(session.labels, all_probs[i], strict=True))
            present = dict(zip(session.labels, all_present[i], strict=True))
            combined, flags = combine(
                rules_labels,
                probs=probs,
                present=present,
                thresholds=thresholds,
                blockers=blockers,
                model_name=session.name,
            )
            results.append(Prediction(combined, present, flags))
        return results


def get_engine(
    name: str,
    *,
    rules: RulesArg = None,
    model_dir: str | Path | None = None,
    variant: str = "int8",
    threads: int | None = None,
    labeler: Labeler | None = None,
) -> Engine:
    """Return the engine called ``name``, not loaded yet (call :meth:`Engine.load` or :meth:`Engine.warm_up`).

    Parameters
    ----------
    name
        ``rules``, ``model`` or ``hybrid``.
    rules
        Paths of user rules files over the built-in rules.
    model_dir
        For ``model`` and ``hybrid``: a model folder, or a folder holding one
        (default ``models/``).
    variant
        For ``model`` and ``hybrid``: ``int8`` (default) or ``fp32``.
    threads
        For ``model`` and ``hybrid``: ONNX Runtime threads (None: its default).
    labeler
        For ``rules`` and ``hybrid``: a rule labeler already built, to reuse.

    Raises
    ------
    EngineUnavailableError
        For an unknown name; for ``model`` and ``hybrid`` when no model is
        installed (the message names ``models/`` and ``make model``), when
        several are and none is named, when its manifest is malformed, or when
        the ``model`` extra is missing. (A file that does not match its sha256
        is found by :meth:`Engine.load`.)

    Examples
    --------
    >>> engine = get_engine("hybrid", model_dir="models")  # doctest: +SKIP
    >>> engine.warm_up()  # doctest: +SKIP
    """
    if name == "rules":
        return RulesEngine.from_labeler(labeler) if labeler is not None else RulesEngine(rules=rules)
    if name not in ENGINE_NAMES:
        raise EngineUnavailableError(name, f"unknown engine; expected one of: {', '.join(ENGINE_NAMES)}")
    path = resolve_model(name, model_dir)
    missing = _model_extra_missing()
    if missing is not None:
        raise EngineUnavailableError(
            name, f"it needs {missing!r} (the model extra): pip install 'reportlab-nlp[model]'"
        )
    if name == "model":
        return ModelEngine(rules=rules, model_dir=path, variant=variant, threads=threads)
    return HybridEngine(rules=rules, model_dir=path, variant=variant, threads=threads, labeler=labeler)


def _rule_paths(rules: Sequence[str | Path] | str | Path | None) -> tuple[str | Path, ...]:
    if rules is None:
        return ()
    if isinstance(rules, str | Path):
        return (rules,)
    return tuple(rules)


__all__ = [
    "DEFAULT_MODEL_DIR",
    "ENGINE_NAMES",
    "MODEL_DIR_ENV",
    "STREAM_BATCH_SIZE",
    "WARM_UP_TEXT",
    "Engine",
    "HybridEngine",
    "ModelEngine",
    "Outcome",
    "Prediction",
    "RulesEngine",
    "find_models",
    "get_engine",
    "resolve_model",
]
