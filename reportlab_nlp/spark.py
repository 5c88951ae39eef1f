"""Label reports on Apache Spark: :func:`label_dataframe` and the ``spark-label`` command.

:func:`label_dataframe` maps a DataFrame of reports to a DataFrame of labels
with ``mapInPandas``: each Python worker of each executor builds the pipeline
once (a module-level cache keyed by the rules hash and the scheme) and labels
the Arrow batches it is given. The rules travel with the task (about 70 KB),
so executors need reportlab-nlp installed but no rules files.

``reportlab-nlp spark-label INPUT OUTPUT`` reads CSV/TSV, JSONL or Parquet
through Spark, labels it and writes Parquet or CSV, in input order: the same
values as ``reportlab-nlp label`` on the same input (the CSV part files,
concatenated under one header, are byte for byte ``label``'s CSV).

Needs the optional ``spark`` extra (``pip install 'reportlab-nlp[spark]'``:
pyspark, pandas, pyarrow) and Java 17 or later. Importing this module does not
import pyspark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .batch import describe_failure
from .engine_args import add_engine_args
from .engines import Engine, Outcome, get_engine
from .errors import ColumnNotFoundError, ExtraNotInstalledError, InputError, JavaNotFoundError, SchemeError
from .io.readers import DEFAULT_ID_COLUMNS, DEFAULT_TEXT_COLUMNS, join_fields
from .io.writers import jsonl_record
from .labeler import Labeler
from .rules import RuleSet, load_rules, with_conventions
from .types import Report

_Row = tuple[list[int | None] | None, list[str | None] | None, str | None, str | None, str | None]

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

ROW_COLUMN = "__reportlab_row"
"""Internal column that keeps the input order through a repartition."""
_FAILED = "reportlab-nlp: report failed:"

_ENGINES: dict[tuple[str, str, str, str], Engine] = {}
"""This Python worker's engines, by (rules hash, scheme, engine, model folder): built once per process."""


def _engine(rules: RuleSet, rules_hash: str, scheme: str, engine: str, model_dir: str) -> Engine:
    key = (rules_hash, scheme, engine, model_dir)
    found = _ENGINES.get(key)
    if found is None:
        labeler = Labeler(rules, scheme=scheme)
        found = get_engine(engine, rules=rules, model_dir=model_dir or None, labeler=labeler)
        found.load()
        _ENGINES[key] = found
    return found


def _cell(value: Any) -> str:
    """A text cell as the readers read it: missing (None, NaN) is the empty text."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


class _PartitionLabeler:
    """The function ``mapInPandas`` runs on each partition (pickled to the executors)."""

    def __init__(
        self,
        rules: RuleSet,
        rules_hash: str,
        scheme: str,
        id_col: str,
        text_cols: tuple[str, ...],
        columns: tuple[str, ...],
        categories: tuple[str, ...],
        *,
        evidence: bool,
        errors: bool,
        keep: tuple[str, ...],
        engine: str = "rules",
        model_dir: str = "",
    ) -> None:
        self.engine = engine
        self.model_dir = model_dir
        self.rules = rules
        self.rules_hash = rules_hash
        self.scheme = scheme
        self.id_col = id_col
        self.text_cols = text_cols
        self.columns = columns
        self.categories = categories
        self.evidence = evidence
        self.errors = errors
        self.keep = keep

    def report(self, rid: Any, cells: Sequence[Any]) -> Report:
        report_id = _cell(rid).strip()
        if len(self.text_cols) == 1:
            return Report(report_id, _cell(cells[0]))
        text, fields = join_fields([(c, _cell(v)) for c, v in zip(self.text_cols, cells, strict=True)])
        return Report(report_id, text, tuple(fields))

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        engine = _engine(self.rules, self.rules_hash, self.scheme, self.engine, self.model_dir)
        for pdf in batches:
            yield self.frame(engine, pdf)

    def frame(self, engine: Engine, pdf: pd.DataFrame) -> pd.DataFrame:
        """The labels of one Arrow batch of reports (one row each, in order)."""
        import pandas as pd

        texts = [pdf[c].tolist() for c in self.text_cols]
        reports = [self.report(rid, [t[n] for t in texts]) for n, rid in enumerate(pdf[self.id_col].tolist())]
        rows = [self.row(engine, n, r, o) for n, (r, o) in enumerate(engine.stream(reports))]
        out: dict[str, Any] = {"report_id": [r.id for r in reports]}
        for i, name in enumerate(self.columns):
            out[name] = pd.array([row[0][i] if row[0] else None for row in rows], dtype="Int32")
        for i, name in enumerate(self.categories):
            out[name] = [row[1][i] if row[1] else None for row in rows]
        if self.evidence:
            out["evidence"] = [row[2] for row in rows]
        if engine.name != "rules":
            out["probabilities"] = [row[3] for row in rows]
        if self.errors:
            out["error"] = [row[4] for row in rows]
        for name in self.keep:
            out[name] = pdf[name].to_numpy()
        return pd.DataFrame(out)

    def row(self, engine: Engine, n: int, report: Report, outcome: Outcome) -> _Row:
        """(values, categories, evidence JSON, probabilities JSON, error) of one report."""
        try:
            if isinstance(outcome, Exception):
                raise outcome
            result = outcome.labels
            triples = engine.values(result, self.scheme)
            extra = outcome.extra_record(triples)
            ev = None
            if self.evidence:
                record = jsonl_record(result, triples, report)
                ev = json.dumps(record["evidence"], ensure_ascii=False)
        except Exception as e:
            # never the report's text, which Spark's logs would keep
            failure = describe_failure(n + 1, report.id, e, report.text)
            if not self.errors:
                raise RuntimeError(f"{_FAILED} {report.id!r}: {failure.error}: {failure.message}") from None
            return None, None, None, None, f"{failure.error}: {failure.message}"
        values = [v.to_json() for _, _, v in triples]
        cats = [result.category(name) for name in self.categories]
        probs = json.dumps(extra["probabilities"], ensure_ascii=False) if extra else None
        return values, cats, ev, probs, None


def _require_pyspark(command: str) -> None:
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as e:
        raise ExtraNotInstalledError(command, "spark", e.name or str(e)) from e


def label_dataframe(
    df: DataFrame,
    id_col: str,
    text_cols: Sequence[str],
    *,
    scheme: str = "full",
    rules: Sequence[str | Path] | None = None,
    evidence: bool = True,
    errors: bool = False,
    keep: Sequence[str] = (),
    engine: str = "rules",
    model_dir: str | Path | None = None,
) -> DataFrame:
    """Label the reports of a Spark DataFrame.

    Parameters
    ----------
    df
        One report per row.
    id_col
        The column of report ids (read as text, stripped).
    text_cols
        The text column; several are joined into one text with a header per
        column, as :class:`~reportlab_nlp.io.readers.ReportSource` joins them.
    scheme
        ``full``, ``chexpert`` or ``chestxray14``.
    rules
        User rules files (read here, on the driver; their contents travel to the executors).
    evidence
        Add ``evidence``: the JSONL record's evidence as a JSON string.
    errors
        Add ``error`` (``"Type: message"``, null when fine) and give a failing
        report null labels; without it a failing report fails the Spark task.
    keep
        Columns of ``df`` copied to the result.
    engine
        ``rules`` (default), ``model`` or ``hybrid`` (as ``label --engine``); the
        model engines need the model folder on every executor, at the same path.
    model_dir
        For ``model`` and ``hybrid``: the model folder (as ``label --model``).

    Returns
    -------
    DataFrame
        ``report_id`` (string), one integer column per label of the scheme
        (1, 0, -1 or null), one string column per categorical label of the
        scheme (the category, or null), then ``evidence``, ``probabilities`` (a
        model engine's, JSON by column), ``error`` and ``keep`` when asked; rows
        in the order of ``df``'s partitions.

    Examples
    --------
    >>> from reportlab_nlp.spark import label_dataframe
    >>> reports = spark.read.parquet("reports")  # doctest: +SKIP
    >>> labels = label_dataframe(reports, "uid", ["findings", "impression"])  # doctest: +SKIP
    >>> labels.write.parquet("labels")  # doctest: +SKIP
    """
    _require_pyspark("label_dataframe")
    from pyspark.sql import types as T

    ruleset = load_rules(with_conventions(tuple(rules or ()), scheme))
    if scheme not in ruleset.schemes:
        raise SchemeError(scheme, ruleset.schemes)
    columns = tuple(c for c, _ in ruleset.schemes[scheme].columns)
    categories = tuple(ruleset.schemes[scheme].categories)
    if not text_cols:
        raise InputError("label_dataframe needs at least one text column")
    for kind, names in (("id", [id_col]), ("text", list(text_cols)), ("kept", list(keep))):
        for name in names:
            if name not in df.columns:
                raise ColumnNotFoundError("the DataFrame", kind, name, df.columns)
    fields = [T.StructField("report_id", T.StringType(), False)]
    fields += [T.StructField(c, T.IntegerType(), True) for c in columns]
    fields += [T.StructField(c, T.StringType(), True) for c in categories]
    if evidence:
        fields.append(T.StructField("evidence", T.StringType(), True))
    model = ""
    if engine != "rules":  # resolved and checked (sha256, the model extra) here, on the driver
        checked = get_engine(engine, rules=ruleset, model_dir=model_dir)
        checked.load()
        model = str(getattr(checked, "model_dir", ""))
        fields.append(T.StructField("probabilities", T.StringType(), True))
    if errors:
        fields.append(T.StructField("error", T.StringType(), True))
    fields += [df.schema[name] for name in keep]
    function = _PartitionLabeler(
        ruleset,
        ruleset.digest(),
        scheme,
        id_col,
        tuple(text_cols),
        columns,
        categories,
        evidence=evidence,
        errors=errors,
        keep=tuple(keep),
        engine=engine,
        model_dir=model,
    )
    selected = df.select(*dict.fromkeys([id_col, *text_cols, *keep]))
    return selected.mapInPandas(function, T.StructType(fields))


# ---------------------------------------------------------------------------
# reportlab-nlp spark-label
# ---------------------------------------------------------------------------

INPUT_FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet")


def add_spark_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    add_rules_args: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """Add the ``spark-label`` command to the CLI's subparsers (without importing pyspark)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "spark-label",
        help="label a corpus on Apache Spark (local or a cluster): Parquet/CSV/JSONL in, Parquet or CSV out",
        description="Label the reports of INPUT with Spark (mapInPandas, one pipeline per Python worker) and "
        "write OUTPUT, a folder of Parquet or CSV part files in input order. Needs the `spark` extra and "
        "Java 17.",
    )
    p.add_argument(
        "input", metavar="INPUT", help="CSV/TSV file, JSONL file, Parquet file or folder (any Spark path)"
    )
    p.add_argument("output", metavar="OUTPUT", help="output folder (Spark writes part files)")
    p.add_argument(
        "--master", default=None, help="Spark master, e.g. local[2] (default: spark-submit's, else local[*])"
    )
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="output format")
    p.add_argument("--input-format", choices=INPUT_FORMATS, default="auto", help="default: by extension")
    p.add_argument("--id-col", default=None, help="id column (default: report_id, id or uid)")
    p.add_argument(
        "--text-col", action="append", default=[], metavar="COL", help="text column; may be repeated"
    )
    p.add_argument(
        "--partitions",
        type=int,
        default=None,
        metavar="N",
        help="label in N partitions (default: Spark's default parallelism, at least the input's partitions)",
    )
    p.add_argument(
        "--evidence",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the evidence as a JSON column (default: with Parquet, not with CSV)",
    )
    p.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="a report that raises fails the job (fail, default) or gets null labels and an `error` column",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_engine_args(p)
    add_rules_args(p)
    return p


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def _input_format(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix == ".parquet" or (p.is_dir() and any(p.glob("*.parquet"))):
        return "parquet"
    if p.is_dir():
        raise InputError(f"{path}: a folder of .txt files is not read by spark-label; use `label` or Parquet")
    return "csv"


def read_reports(spark: SparkSession, path: str, fmt: str = "auto") -> DataFrame:
    """Read a table of reports with Spark, as the readers read it (CSV: RFC 4180, multi-line cells)."""
    kind = _input_format(path, fmt)
    if kind == "parquet":
        return spark.read.parquet(path)
    if kind == "jsonl":
        return spark.read.option("mode", "FAILFAST").json(path)
    return (
        spark.read.option("header", True)
        .option("multiLine", True)
        .option("escape", '"')
        .option("sep", "\t" if kind == "tsv" else ",")
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
        .csv(path)
    )


def _pick(columns: Sequence[str], wanted: str | None, defaults: Sequence[str], kind: str, where: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise ColumnNotFoundError(where, kind, wanted, columns)
        return wanted
    for name in defaults:
        if name in columns:
            return name
    raise ColumnNotFoundError(where, kind, defaults[0], columns)


def _session(master: str | None) -> tuple[SparkSession, bool]:
    """The active session, or a new one (and whether this call made it)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    launched_by_spark = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started this driver
    if not launched_by_spark:
        if not _java_available():
            raise JavaNotFoundError("spark-label")
        if (master or "local").startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need this environment
    builder = SparkSession.builder.appName("reportlab-nlp spark-label")
    if master:
        builder = builder.master(master)
    elif not launched_by_spark:
        builder = builder.master("local[*]")
    return builder.getOrCreate(), True


def run_spark_label(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run ``reportlab-nlp spark-label``."""
    _require_pyspark("spark-label")
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark, owned = _session(args.master)
    try:
        try:
            df = read_reports(spark, args.input, args.input_format)
        except Exception as e:
            if "PATH_NOT_FOUND" in str(e) or "Path does not exist" in str(e):
                raise InputError(f"{args.input}: no such file or folder") from None
            raise
        id_col = _pick(df.columns, args.id_col, DEFAULT_ID_COLUMNS, "id", args.input)
        text_cols = [_pick(df.columns, c, (), "text", args.input) for c in args.text_col] or [
            _pick(df.columns, None, DEFAULT_TEXT_COLUMNS, "text", args.input)
        ]
        partitions = args.partitions or max(spark.sparkContext.defaultParallelism, df.rdd.getNumPartitions())
        ordered = (
            df.withColumn(ROW_COLUMN, F.monotonically_increasing_id())
            .repartitionByRange(partitions, ROW_COLUMN)
            .sortWithinPartitions(ROW_COLUMN)
        )
        evidence = args.evidence if args.evidence is not None else args.format == "parquet"
        labels = label_dataframe(
            ordered,
            id_col,
            text_cols,
            scheme=args.scheme,
            rules=args.rules,
            evidence=evidence,
            errors=args.on_error == "skip",
            keep=(ROW_COLUMN,),
            engine=args.engine,
            model_dir=args.model,
        ).drop(ROW_COLUMN)
        writer = labels.write.mode("overwrite" if args.overwrite else "errorifexists")
        try:
            if args.format == "csv":
                writer.option("header", True).option("escape", '"').option("lineSep", "\n").csv(args.output)
                n = spark.read.option("header", True).option("multiLine", True).csv(args.output).count()
            else:
                writer.parquet(args.output)
                n = spark.read.parquet(args.output).count()
        except Exception as e:  # Spark wraps a worker's error in a long trace: keep our one line
            message = str(e)
            if _FAILED in message:
                line = message[message.index(_FAILED) :].splitlines()[0]
                raise InputError(f"{line} (spark-label --on-error skip gives it null labels)") from None
            if "PATH_ALREADY_EXISTS" in message or "already exists" in message:
                raise InputError(f"{args.output} already exists; pass --overwrite to replace it") from None
            raise
        master = spark.sparkContext.master
    finally:
        if owned:
            spark.stop()
    elapsed = time.perf_counter() - started
    stderr.write(
        f"reportlab-nlp: spark-label: {n} reports labeled on {master} in {partitions} partitions; "
        f"{elapsed:.1f} s ({n / elapsed if elapsed > 0 else 0:.0f} reports/s, start-up included); "
        f"wrote {args.output} ({args.format})\n"
    )
    return 0


__all__ = ["ROW_COLUMN", "add_spark_parser", "label_dataframe", "read_reports", "run_spark_label"]
