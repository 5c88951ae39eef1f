"""One catalogue of the errors reportlab-nlp raises for a user's mistake.

Every message says what was wrong, where (file, row, column, entry), what was
expected and what was found. The command line turns these into a message on
standard error and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class ReportlabError(Exception):
    """Base class of every error a user's input can cause."""

    exit_code = 2


class RulesError(ReportlabError):
    """A rules file (built-in or ``--rules``) is malformed."""

    def __init__(self, path: str, entry: str, problem: str) -> None:
        self.path = path
        self.entry = entry
        self.problem = problem
        where = f"{path}: {entry}" if entry else path
        super().__init__(f"invalid rules file {where}: {problem}")


class InputError(ReportlabError):
    """An input file cannot be read as reports."""


class ColumnNotFoundError(InputError):
    """A named column is missing from a table."""

    def __init__(
        self,
        path: str,
        kind: str,
        column: str,
        columns: Iterable[str],
        *,
        suggestion: str | None = None,
        option: str = "",
        hint: str = "",
    ) -> None:
        self.column = column
        columns = list(columns)
        listed = ", ".join(repr(c) for c in columns) or "(none)"
        message = f"{kind} column {column!r} not found in {path}; columns are: {listed}"
        if option:  # the option that names the column, with the first found as the example
            example = f" (e.g. {option} {columns[0]!r})" if columns else ""
            message += f"; name the {kind} column with {option}{example}"
        for extra in (suggestion, hint):
            if extra:
                message += f"; {extra}"
        super().__init__(message)


class EncodingError(InputError):
    """Bytes that are not valid UTF-8."""

    def __init__(
        self,
        path: str,
        offset: int,
        detail: str,
        *,
        encoding: str = "utf-8",
        hint: str = "fix the file or pass --encoding-errors replace",
    ) -> None:
        self.offset = offset
        name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        super().__init__(f"{path}: invalid {name} at byte offset {offset} ({detail}); {hint}")


class DuplicateIdError(InputError):
    """The same report id occurs more than once."""

    def __init__(self, path: str, ids: list[str], count: int) -> None:
        self.ids = ids
        shown = ", ".join(repr(i) for i in ids[:5])
        more = f" and {count - 5} more" if count > 5 else ""
        super().__init__(
            f"{path}: duplicate report ids: {shown}{more} ({count} in all); "
            "ids must be unique, or pass --allow-duplicate-ids"
        )


class SchemeError(ReportlabError):
    """An unknown label scheme was asked for."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown scheme {name!r}; known schemes are: {', '.join(sorted(known))}")


class OutputError(ReportlabError):
    """An output path cannot be written."""


class LabelFileError(InputError):
    """A file of labels (ours or a donor's) cannot be compared as it is.

    Raised for an empty file, duplicate ids, values outside every known
    convention, a column that mixes conventions, or two files with no report
    in common; the message names the file, the column and the rows.
    """


class LabelMapError(ReportlabError):
    """A label map (``compare --map``) is malformed or names labels that are not there."""

    def __init__(self, path: str, entry: str, problem: str) -> None:
        self.path = path
        self.entry = entry
        where = f"{path}: entry {entry}" if entry else path
        super().__init__(f"invalid label map {where}: {problem}")


class MatchBudgetError(ReportlabError):
    """Labeling one report ran past the matching budget (a rule's pattern backtracks on its text).

    Per report: ``label --on-error skip`` lists the report in the errors file and goes on.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"labeling this report took over {seconds:g} s, the matching budget "
            "(REPORTLAB_MATCH_BUDGET_S): a rule's pattern backtracks on its text"
        )


class ExtraNotInstalledError(ReportlabError):
    """A command needs an optional extra (``pip install 'reportlab-nlp[EXTRA]'``) that is not installed."""

    def __init__(self, command: str, extra: str, missing: str) -> None:
        super().__init__(
            f"the {command} command needs the optional dependency {missing!r}; "
            f"install it with: pip install 'reportlab-nlp[{extra}]'"
        )


class ResumeError(ReportlabError):
    """``label --resume`` cannot go on with the interrupted run: its input, settings or files changed."""


class JavaNotFoundError(ReportlabError):
    """Spark needs Java (17 or later) and none was found."""

    def __init__(self, command: str) -> None:
        super().__init__(
            f"the {command} command runs Spark, which needs Java 17 or later: no `java` on PATH and "
            "JAVA_HOME is not set; install a JRE (Debian: apt-get install openjdk-17-jre-headless, "
            "or `make java`)"
        )


class ReportFailedError(ReportlabError):
    """A report raised while it was labeled and ``--on-error fail`` stopped the run (exit status 1)."""

    exit_code = 1


class ManifestError(InputError):
    """A study manifest (``--manifest``) is malformed: bad UIDs, conflicting rows, missing values.

    The message names the file and every offending row (the first rows when
    there are many), what was expected and what was found.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f"; and {len(problems) - 10} more problems" if len(problems) > 10 else ""
        super().__init__(f"invalid study manifest {path}: {shown}{more}")


class EngineUnavailableError(ReportlabError):
    """A labeling engine (``--engine model`` or ``hybrid``) cannot run here: its model or extra is missing.

    The message names the engine, where a model was looked for, what was found
    there and what provides it.
    """

    def __init__(self, engine: str, problem: str) -> None:
        self.engine = engine
        self.problem = problem
        super().__init__(f"engine {engine!r} is not available: {problem}")


class SettingsError(ReportlabError):
    """A settings object (:class:`~reportlab_nlp.classifier.train.TrainConfig`, ``CVConfig``, ...) holds
    a value it cannot use, or a settings file holds a key it does not know.

    One rule for every settings error: a user error (exit status 2, one line, no
    traceback) naming where the settings came from (when a file), the field, what
    was expected and what was found.
    """

    def __init__(self, field: str, expected: str, found: object, *, source: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: expected {expected}, found {found!r}")


class ServiceConfigError(ReportlabError):
    """The service's settings (``REPORTLAB_*`` environment variables or ``serve`` options) are invalid."""


class ModelError(ReportlabError):
    """A model folder (``models/<name>/``) or a training run cannot be used as it is.

    Raised for a missing or malformed ``manifest.json``, a missing file, a
    training run folder that does not match the settings asked for, and an
    export that failed its acceptance gate; the message names the folder or the
    file, what was expected and what was found.
    """


class ModelIntegrityError(ModelError):
    """A file of a model folder does not match the sha256 its manifest records."""

    def __init__(self, path: str, expected: str, found: str) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"model file {path} does not match its manifest: sha256 {found[:16]}..., the manifest "
            f"records {expected[:16]}...; the file was changed or damaged after export: export the "
            "model again (reportlab-nlp export-model, or make model)"
        )


class ExportRejectedError(ModelError):
    """An ONNX export or its int8 quantization failed its acceptance gate (parity or agreement)."""
