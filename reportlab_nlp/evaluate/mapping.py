"""Label maps: which of the donor's labels is compared with which of ours.

A donor's label is paired with one of our columns, in this order:

1. the map file (``--map MAP.yaml``): ``their name: our name`` per line;
   several of their names may map to one of ours (their values are combined:
   any 1, else any -1, else any 0, else blank), and ``their name: null``
   leaves a label out on purpose;
2. the same name;
3. the same name written differently (case, spaces, ``_`` and ``-``);
4. a built-in name: the CheXpert names are ours, and the ChestX-ray14 names
   (``Effusion``, ``Mass``, ``Nodule``, ``Fibrosis``, ``Pleural_Thickening``)
   pair with the labels behind them, both ways, as in the label schemes.

Labels left over on either side are listed in the report, never dropped
silently. A map entry whose labels exist on neither side is an error (a typo
would otherwise hide a label); an entry for a label this donor does not have
is listed as unused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import srsly

from ..errors import LabelMapError
from .tables import normalise_name

HOW_MAP = "map file"
HOW_SAME = "same name"
HOW_SPELLING = "same name, spelled differently"
HOW_BUILTIN = "built-in name"


@dataclass(frozen=True)
class LabelMap:
    """A user's label map: ``(their name, our name or None)`` entries, in file order."""

    entries: tuple[tuple[str, str | None], ...]
    path: str = "<map>"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | None], *, path: str = "<map>") -> LabelMap:
        """A map from a dict ``{their name: our name or None}``."""
        entries = []
        for key, value in mapping.items():
            if not isinstance(key, str) or not key.strip():
                raise LabelMapError(path, repr(key), "a label name must be a non-empty string")
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise LabelMapError(
                    path,
                    repr(key),
                    f"expected our label's name (a string) or null to leave it out, found {value!r}",
                )
            entries.append((key.strip(), None if value is None else value.strip()))
        return cls(tuple(entries), path)


def read_label_map(path: str | os.PathLike[str]) -> LabelMap:
    """Read a label map file (YAML or JSON): ``their name: our name`` (or ``null``).

    Raises
    ------
    LabelMapError
        The file is missing, unreadable, empty, not a mapping, or has a bad entry.
    """
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise LabelMapError(name, "", "no such file")
    try:
        data: Any = srsly.read_json(p) if p.suffix.lower() == ".json" else srsly.read_yaml(p)
    except Exception as e:  # srsly raises several parser-specific errors
        raise LabelMapError(name, "", f"not valid YAML or JSON ({str(e).splitlines()[0]})") from e
    if data is None:
        raise LabelMapError(name, "", "the file is empty; expected lines 'their label: our label'")
    if not isinstance(data, dict):
        raise LabelMapError(
            name, "", f"expected a mapping of 'their label: our label', found a {type(data).__name__}"
        )
    return LabelMap.from_mapping(data, path=name)


@cache
def builtin_aliases() -> dict[str, tuple[str, ...]]:
    """Equivalent names from the label schemes: a scheme column and the label behind it.

    Read from the packaged ``rules/schemes.yaml`` (data, not code); keys and
    values are normalised names.
    """
    text = resources.files("reportlab_nlp.rules").joinpath("schemes.yaml").read_text(encoding="utf-8")
    data = srsly.yaml_loads(text)
    pairs: dict[str, set[str]] = {}
    for scheme in dict(data.get("schemes", {})).values():
        for entry in scheme.get("columns", []):
            if isinstance(entry, dict):
                for column, label in entry.items():
                    a, b = normalise_name(str(column)), normalise_name(str(label))
                    if a != b:
                        pairs.setdefault(a, set()).add(b)
                        pairs.setdefault(b, set()).add(a)
    return {k: tuple(sorted(v)) for k, v in pairs.items()}


@dataclass(frozen=True)
class LabelPair:
    """One compared label: our column, the donor's column(s), and how they were paired."""

    ours: str
    theirs: tuple[str, ...]
    how: str

    @property
    def their_name(self) -> str:
        return " + ".join(self.theirs)

    def to_dict(self) -> dict[str, Any]:
        return {"ours": self.ours, "theirs": list(self.theirs), "how": self.how}


@dataclass(frozen=True)
class LabelMapping:
    """The outcome of pairing labels: the pairs and everything left over."""

    pairs: tuple[LabelPair, ...]
    unmapped_ours: tuple[str, ...]
    unmapped_theirs: tuple[str, ...]
    ignored_theirs: tuple[str, ...] = ()
    unused_entries: tuple[str, ...] = ()
    map_path: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "map": self.map_path,
            "pairs": [p.to_dict() for p in self.pairs],
            "unmapped_ours": list(self.unmapped_ours),
            "unmapped_theirs": list(self.unmapped_theirs),
            "left_out_by_map": list(self.ignored_theirs),
            "unused_map_entries": list(self.unused_entries),
        }


def _listed(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) or "(none)"


def pair_labels(
    our_columns: Sequence[str],
    their_columns: Sequence[str],
    label_map: LabelMap | None = None,
    *,
    ours_name: str = "OURS",
    theirs_name: str = "THEIRS",
) -> LabelMapping:
    """Pair the donor's label columns with ours (see the module's docstring for the order).

    Raises
    ------
    LabelMapError
        A map entry names labels on neither side, maps to a label that we do
        not have, or maps one of their labels twice.
    """
    ours_exact = set(our_columns)
    ours_norm: dict[str, str] = {}
    for c in our_columns:
        ours_norm.setdefault(normalise_name(c), c)
    theirs_norm: dict[str, str] = {}
    for c in their_columns:
        theirs_norm.setdefault(normalise_name(c), c)
    aliases = builtin_aliases()

    def find_ours(name: str, *, builtin: bool = True) -> tuple[str | None, str]:
        if name in ours_exact:
            return name, HOW_SAME
        n = normalise_name(name)
        if n in ours_norm:
            return ours_norm[n], HOW_SPELLING
        if builtin:
            for alias in aliases.get(n, ()):
                if alias in ours_norm:
                    return ours_norm[alias], HOW_BUILTIN
        return None, ""

    claimed: dict[str, list[str]] = {}
    how: dict[str, str] = {}
    done: set[str] = set()
    ignored: list[str] = []
    unused: list[str] = []
    if label_map is not None:
        for key, target in label_map.entries:
            entry = f"{key!r}: {target!r}" if target is not None else f"{key!r}: null"
            their = key if key in their_columns else theirs_norm.get(normalise_name(key))
            ours = find_ours(target)[0] if target is not None else None
            if their is None:
                if target is not None and ours is None:
                    raise LabelMapError(
                        label_map.path,
                        entry,
                        f"{key!r} is not a label of {theirs_name} and {target!r} is not a label of "
                        f"{ours_name} "
                        f"(a label on neither side); {theirs_name} labels are: {_listed(their_columns)}; "
                        f"{ours_name} labels are: {_listed(our_columns)}",
                    )
                unused.append(key)
                continue
            if their in done:
                raise LabelMapError(label_map.path, entry, f"{their_name(their)} is mapped more than once")
            done.add(their)
            if target is None:
                ignored.append(their)
                continue
            if ours is None:
                raise LabelMapError(
                    label_map.path,
                    entry,
                    f"maps {their!r} to {target!r}, which is not a label of {ours_name}; "
                    f"{ours_name} labels are: {_listed(our_columns)}",
                )
            claimed.setdefault(ours, []).append(their)
            how[ours] = HOW_MAP
    for step in (HOW_SAME, HOW_SPELLING, HOW_BUILTIN):
        for their in their_columns:
            if their in done:
                continue
            ours, found_how = find_ours(their)
            if ours is None or found_how != step or ours in claimed:
                continue
            claimed[ours] = [their]
            how[ours] = found_how
            done.add(their)
    pairs = tuple(LabelPair(c, tuple(claimed[c]), how[c]) for c in our_columns if c in claimed)
    return LabelMapping(
        pairs=pairs,
        unmapped_ours=tuple(c for c in our_columns if c not in claimed),
        unmapped_theirs=tuple(c for c in their_columns if c not in done),
        ignored_theirs=tuple(ignored),
        unused_entries=tuple(unused),
        map_path=label_map.path if label_map is not None else None,
    )


def their_name(name: str) -> str:
    return f"their label {name!r}"


def choose_scheme(
    schemes: Mapping[str, Sequence[str]], their_columns: Sequence[str], label_map: LabelMap | None = None
) -> str:
    """The label scheme whose columns pair best with the donor's labels.

    Ranks by labels paired by the map or by the very same name, then by all
    labels paired, then by fewest of our labels left unpaired; ties go to the
    first scheme given (``full``).
    """
    best: tuple[int, int, int] | None = None
    chosen = next(iter(schemes))
    for name, columns in schemes.items():
        try:
            mapping = pair_labels(columns, their_columns, label_map)
        except LabelMapError:
            continue
        score = (
            sum(1 for p in mapping.pairs if p.how in (HOW_MAP, HOW_SAME)),
            len(mapping.pairs),
            -len(mapping.unmapped_ours),
        )
        if best is None or score > best:
            best, chosen = score, name
    return chosen


__all__ = [
    "LabelMap",
    "LabelMapping",
    "LabelPair",
    "builtin_aliases",
    "choose_scheme",
    "pair_labels",
    "read_label_map",
]
