"""Reading the files a design names: its data (a CSV or parquet file, or a named packaged dataset) and the
survey files of its outcomes.

One resolver (:func:`relative_to`: a relative path is relative to the design file's folder), one reader
(:func:`read_file`) and one fingerprint per kind of input: the sha256 of a file's bytes, or
:func:`cpeval.data.fingerprint.frame_sha256` of a frame built in memory (packaged datasets, incident
aggregates, a DataFrame passed to ``evaluate``). Shipped and user tables of weights and unit costs resolve
their paths here too.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval.errors import DataError, DesignError, Problem, ProblemCode

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase


@dataclass(frozen=True)
class Source:
    """What was read: the frame, a label for messages, and the sha256 of the bytes read."""

    frame: pd.DataFrame
    label: str
    sha256: str
    # what reading found that the report should show (incident sources: query, rows read, unmapped codes...)
    provenance: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def relative_to(path: str | Path, folder: str | Path | None) -> Path:
    """``path`` as a design gives it: a relative path is relative to ``folder`` (the design file's folder;
    the working directory when the design was not read from a file)."""
    p = Path(path)
    return Path(folder) / p if folder is not None and not p.is_absolute() else p


def design_folder(design_or_origin: DesignBase | str | None) -> Path | None:
    """The folder of the design file (None for a design built in memory)."""
    origin = design_or_origin if design_or_origin is None or isinstance(design_or_origin, str) else (
        design_or_origin.origin)
    return Path(origin).parent if origin is not None else None


def resolve_path(design: DesignBase) -> Path:
    """The data file's path."""
    assert design.data.path is not None
    return relative_to(design.data.path, design_folder(design))


def read_source(design: DesignBase) -> Source:
    if design.data.dataset is not None:
        return read_dataset(design.data.dataset)
    if design.data.source is not None:
        from cpeval.data.aggregate import aggregate_incidents
        from cpeval.data.fingerprint import frame_sha256

        agg = aggregate_incidents(design)
        return Source(frame=agg.frame, label=str(agg.provenance["incident_source"]), sha256=frame_sha256(agg.frame),
                      provenance=agg.provenance, warnings=agg.warnings)
    return read_file(resolve_path(design), str(design.data.path), "data.path")


HASH_CHUNK_BYTES = 4 * 2**20


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks of :data:`HASH_CHUNK_BYTES` (the file is never held whole in
    memory); the same digest as ``hashlib.sha256(path.read_bytes())``."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK_BYTES)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def read_file(path: Path, label: str, key: str, *, text: bool = False, allow_empty: bool = False) -> Source:
    """A CSV or parquet file and the sha256 of its bytes; ``key`` is the design key that named it. ``text``:
    every CSV cell as a string, empty cells as ""; ``allow_empty``: a header without rows is no error."""
    if not path.is_file():
        raise DataError(
            label,
            [Problem(ProblemCode.FILE_NOT_FOUND, None, f"no file at {path}; check {key} (it is "
                     "relative to the design file's folder)")],
        )
    try:
        stamp = _stamp(path)
        sha = file_sha256(path)
    except OSError as exc:
        raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, f"cannot read {path}: {exc.strerror or exc}; "
                                        "check the file's permissions")]) from None
    import pandas as pd

    try:
        if path.suffix.lower() != ".csv":
            frame = pd.read_parquet(path)
        elif text:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False).fillna("")
        else:
            frame = pd.read_csv(path)
        changed = _stamp(path) != stamp
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, f"cannot parse {path.name}: {exc}")]) from None
    if changed:  # the fingerprint must be of the bytes parsed
        raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, f"{path} changed while it was being read; "
                                        "run again once whatever writes it has finished")])
    if frame.empty and not allow_empty:
        raise DataError(label, [Problem(ProblemCode.EMPTY, None, "the file has no data rows")])
    return Source(frame=frame, label=label, sha256=sha)


def read_table(path: Path, label: str, key: str) -> tuple[list[str], list[dict[str, str]]]:
    """A small CSV table a design names (harm weights, unit costs, deflators): its header and its rows, every
    value a stripped string ("" when empty). Read by :func:`read_file`, so a missing, unreadable or
    mis-encoded file gives the same error as a data file; a header without rows gives no rows, for the
    caller to explain."""
    frame = read_file(path, label, key, text=True, allow_empty=True).frame
    header = [str(c).strip() for c in frame.columns]
    values = frame.to_numpy(dtype=object)
    return header, [{h: str(v).strip() for h, v in zip(header, row, strict=True)} for row in values]


def read_sidecar(path: Path, key: str) -> dict:
    """A table's provenance file beside it (``.json`` or ``.yaml``) as a mapping; ``{}`` when there is none.

    A file that does not parse, or is not a mapping, is a :class:`DesignError` naming ``key`` and the file.
    """
    import json

    import yaml

    if not path.is_file():
        return {}
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
        meta = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DesignError(f"{key}: the table's provenance file {path} is not readable {kind} ({exc}); "
                          "mend it or remove it (the table then reads without provenance)") from None
    if meta is None and kind == "YAML":
        return {}
    if not isinstance(meta, dict):
        raise DesignError(f"{key}: the table's provenance file {path} must be a {kind} mapping "
                          "(name, source, ...); mend it or remove it")
    return meta


def read_dataset(name: str) -> Source:

    package, _, dataset = name.partition(".")
    problem: str | None = None
    frame: pd.DataFrame | None = None
    if package == "causaldata" and dataset:
        available = _causaldata_names()
        if available is None:
            problem = (
                f"cannot load {name!r}: install the 'causaldata' package (pip install causaldata) "
                "or use data.path with a copy of the file"
            )
        elif dataset not in available:
            from cpeval.errors import did_you_mean

            problem = (
                f"causaldata has no dataset {dataset!r}{did_you_mean(dataset, available)} (it has "
                f"{len(available)}: {', '.join(available[:8])}, ...); check data.dataset"
            )
        else:
            loader = getattr(importlib.import_module(f"causaldata.{dataset}"), "load_pandas", None)
            if loader is None:
                problem = f"causaldata.{dataset} is not a dataset (it has no data to load); check data.dataset"
            else:
                frame = loader().data
    elif package == "cpeval" and dataset:
        from cpeval.datasets import NAMED_DATASETS

        if dataset in NAMED_DATASETS:
            frame = NAMED_DATASETS[dataset]()
        else:
            from cpeval.errors import did_you_mean

            problem = (
                f"no packaged dataset {name!r}; available: "
                f"{', '.join('cpeval.' + k for k in sorted(NAMED_DATASETS))}"
                f"{did_you_mean(name, ['cpeval.' + k for k in NAMED_DATASETS])}"
            )
    else:
        problem = f"data.dataset {name!r} should look like 'causaldata.castle' or 'cpeval.<name>'"
    if frame is None:
        raise DataError(name, [Problem(ProblemCode.FILE_NOT_FOUND, None, problem or "not found")])
    from cpeval.data.fingerprint import frame_sha256

    return Source(frame=frame, label=name, sha256=frame_sha256(frame))


def _causaldata_names() -> list[str] | None:
    """The datasets the installed causaldata package ships (its submodules with a loader), or None."""
    import pkgutil

    try:
        package = importlib.import_module("causaldata")
    except ModuleNotFoundError:
        return None
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
