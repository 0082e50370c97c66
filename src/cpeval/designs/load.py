"""Reading design files: ``yaml.safe_load`` then strict validation, with errors a person can act on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpeval.errors import DesignError, did_you_mean

if TYPE_CHECKING:
    from pydantic import ValidationError

    from cpeval.designs.base import DesignBase

KINDS = ("did", "synthetic_control", "rct")


def load_design(path: str | Path) -> DesignBase:
    """Read and validate a design file. Raises :class:`DesignError` naming the file and the key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        hint = " (it is a directory)" if path.is_dir() else ""
        raise DesignError(f"{path}: design file not found{hint}; give the path to a .yaml design file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignError(f"{path}: cannot read the design file ({exc})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise DesignError(f"{path}: not valid YAML{where}: {problem}") from exc
    design = design_from_dict(raw, source=str(path))
    design._origin = str(path.resolve())
    return design


def design_from_dict(raw: Any, source: str = "<design>") -> DesignBase:
    """Validate a design given as a dict (what the YAML file holds)."""
    from pydantic import ValidationError

    from cpeval.designs import DESIGN_ADAPTER

    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise DesignError(f"{source}: a design must be a mapping of keys (name, kind, data, ...), got {got}")
    kind = raw.get("kind")
    if kind is None:
        raise DesignError(f"{source}: kind: required key missing; expected one of: {', '.join(KINDS)}")
    if kind not in KINDS:
        raise DesignError(
            f"{source}: kind: {kind!r} is not a design kind; expected one of: {', '.join(KINDS)}"
            f"{did_you_mean(str(kind), KINDS)}"
        )
    try:
        return DESIGN_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DesignError(format_validation_error(exc, source, raw)) from None


def _loc_to_key(loc: tuple[Any, ...], kind: str) -> tuple[str, list[Any]]:
    parts = list(loc)
    if parts and parts[0] == kind:  # the discriminated union puts the tag first
        parts = parts[1:]
    key = ""
    for p in parts:
        if isinstance(p, int):
            key += f"[{p}]"
        else:
            key += ("." if key else "") + str(p)
    return key or "(top level)", parts


def _lookup(raw: Any, parts: list[Any]) -> Any:
    node = raw
    for p in parts:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _model_fields_at(kind: str, parts: list[Any]) -> list[str]:
    """Valid keys of the model found at ``parts`` (for did-you-mean on unknown keys)."""
    import typing

    from pydantic import BaseModel

    from cpeval.designs.did import DidDesign
    from cpeval.designs.rct import RctDesign
    from cpeval.designs.synth import SynthDesign

    model: Any = {"did": DidDesign, "synthetic_control": SynthDesign, "rct": RctDesign}[kind]
    for p in parts:
        if isinstance(p, int):
            continue
        field = model.model_fields.get(p)
        if field is None:
            return []
        ann = field.annotation
        candidates = [ann, *typing.get_args(ann)]
        for inner in list(candidates):
            candidates += list(typing.get_args(inner))
        nxt = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nxt:
            return []
        model = nxt[0]
    return [f.alias or name for name, f in model.model_fields.items()]


def format_validation_error(exc: ValidationError, source: str, raw: dict[str, Any]) -> str:
    kind = raw.get("kind", "")
    lines = []
    for err in exc.errors(include_url=False):
        etype = err["type"]
        loc = tuple(err["loc"])
        # Union members add their type name to the location; keep the user's keys only.
        loc = tuple(p for p in loc if not ((isinstance(p, str) and p[:1].isupper()) or p in ("str", "int")))
        key, parts = _loc_to_key(loc, kind)
        if etype == "extra_forbidden":
            valid = _model_fields_at(kind, parts[:-1])
            bad = parts[-1] if parts else key
            hint = did_you_mean(str(bad), valid)
            where = key.rsplit(".", 1)[0] if "." in key else "(top level)"
            msg = f"unknown key {bad!r} in {where}{hint}"
            if not hint and valid:
                msg += f"; allowed keys: {', '.join(valid)}"
            lines.append(f"{key}: {msg}")
            continue
        value = _lookup(raw, parts)
        if etype == "missing":
            lines.append(f"{key}: required key missing")
        elif etype in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
            lines.append(
                f"{key}: {value!r} is not allowed; expected one of {expected}{did_you_mean(str(value), choices)}"
            )
        elif etype == "value_error":
            text = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {text}")
        else:
            shown = "" if value is None and "input" not in err else f" (got {err.get('input')!r})"
            lines.append(f"{key}: {err['msg'][0].lower()}{err['msg'][1:]}{shown}")
    # A union of int|str reports the same key twice; keep each message once, in order.
    unique = list(dict.fromkeys(lines))
    n = len(unique)
    head = f"{source}: {n} problem{'s' if n != 1 else ''} in the design:"
    return "\n".join([head, *[f"  - {line}" for line in unique]])


def design_schema() -> dict[str, Any]:
    """The JSON Schema of the design format (for editors: VS Code's YAML extension and others)."""
    from cpeval.designs import DESIGN_ADAPTER

    schema = DESIGN_ADAPTER.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cpeval design"
    return schema


def design_hash(design: DesignBase) -> str:
    """sha256 of the design's canonical JSON (sorted keys), independent of YAML layout and comments."""
    payload = json.dumps(design.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
