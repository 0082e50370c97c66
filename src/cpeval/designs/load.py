"""Reading design files: a bounded safe YAML parse then strict validation, with errors a person can act on.

A design file is untrusted input. Before anything is built from it the YAML node graph is checked:

* the file is at most :data:`MAX_DESIGN_BYTES` long;
* YAML anchors and aliases are allowed (``&defaults`` / ``*defaults`` to repeat a block), but the document,
  with every alias expanded, may hold at most :data:`MAX_VALUES` values and :data:`MAX_CHARS` characters of
  text, and may not nest deeper than :data:`MAX_DEPTH` levels; an alias that refers to its own anchor is an
  error. So an alias bomb ("billion laughs") is refused in milliseconds without being expanded, while every
  real design (a few hundred values) is far inside the budget;
* a key repeated in one mapping is an error naming both lines (plain YAML keeps the last silently);
* only the safe tags (``yaml.safe_load``'s constructor) are built.

Every value a message repeats is cut to a few hundred characters (:func:`cpeval.errors.echo`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from cpeval.designs.methods import on_change
from cpeval.errors import ECHO_LIMIT, DesignError, did_you_mean, echo

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

    from cpeval.designs.base import DesignBase

KINDS = ("did", "synthetic_control", "rct")
MAX_DESIGN_BYTES = 1_000_000
MAX_VALUES = 100_000  # nodes of the document with aliases expanded
MAX_CHARS = 10_000_000  # characters of text of the document with aliases expanded
MAX_DEPTH = 64
MAX_LISTED = 20  # problems listed in one message; the rest are counted
MAX_LINE = 1_000  # characters of one listed problem
# a quoted value longer than the echo limit inside a validator's message (validators quote with !r)
_LONG_QUOTED = re.compile(f"'([^']{{{ECHO_LIMIT + 1},}})'")


def load_design(path: str | Path) -> DesignBase:
    """Read and validate a design file. Raises :class:`DesignError` naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        hint = " (it is a directory)" if path.is_dir() else ""
        raise DesignError(f"{path}: design file not found{hint}; give the path to a .yaml design file")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_DESIGN_BYTES + 1)
        if len(data) > MAX_DESIGN_BYTES:
            raise DesignError(
                f"{path}: the design file is larger than {MAX_DESIGN_BYTES:,} bytes; a design is a short YAML "
                "file of keys (name, kind, data, ...) and names its data in data.path, it does not hold them"
            )
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignError(f"{path}: cannot read the design file ({exc})") from exc
    raw = parse_yaml(text, str(path))
    design = design_from_dict(raw, source=str(path))
    design._origin = str(path.resolve())
    return design


def parse_yaml(text: str, source: str) -> Any:
    """Parse a design's YAML text safely within the budget described in the module docstring."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise DesignError(f"{source}: not valid YAML{where}: {str(problem)[:400]}") from None
    finally:
        loader.dispose()


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _duplicate_keys(node: Any) -> list[str]:
    """'key' at line a and line b, for each key written twice in one mapping."""
    import yaml

    seen: dict[str, int] = {}
    found = []
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        if key.value in seen:
            found.append(f"key {echo(key.value)} at line {_line(key)} repeats the key at line {seen[key.value]}")
        else:
            seen[key.value] = _line(key)
    return found


def _check_nodes(root: Any, source: str) -> None:
    """Refuse alias bombs, cycles, deep nesting and repeated keys, without expanding any alias.

    One depth-first pass over the node graph: each distinct node is visited once and its expanded size
    (values, characters) is the sum over its children, so shared (aliased) nodes cost nothing to measure.
    """
    import yaml

    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    duplicates: list[str] = []
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, closing = stack.pop()
        key = id(node)
        if closing:
            open_nodes.discard(key)
            kids = [sizes[id(k)] for k in _children(node)]
            values, chars = 1 + sum(k[0] for k in kids), sum(k[1] for k in kids)
            if values > MAX_VALUES or chars > MAX_CHARS:
                raise DesignError(
                    f"{source}: line {_line(node)}: this value expands to more than "
                    f"{MAX_VALUES:,} values or {MAX_CHARS:,} characters (through YAML aliases, *name, or "
                    "sheer size); a design needs far fewer: write the values out or use fewer nested aliases"
                )
            sizes[key] = (values, chars)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise DesignError(
                f"{source}: line {_line(node)}: a YAML alias refers to the block that contains it (a cycle); "
                "repeat a block only outside itself"
            )
        if depth > MAX_DEPTH:
            raise DesignError(
                f"{source}: line {_line(node)}: values are nested more than {MAX_DEPTH} levels deep; a design "
                "needs a handful"
            )
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = (1, len(node.value))
            continue
        if isinstance(node, yaml.MappingNode):
            duplicates += _duplicate_keys(node)
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))
    if duplicates:
        raise DesignError(_listing(
            f"{source}: {len(duplicates)} repeated key{'s' if len(duplicates) != 1 else ''} (YAML would keep "
            "only the last; keep one of each):", duplicates,
        ))


def _listing(head: str, lines: list[str]) -> str:
    """A message of one head line and at most MAX_LISTED problems, each cut to MAX_LINE characters."""
    shown = [line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}... (cut)" for line in lines[:MAX_LISTED]]
    more = [f"  ... and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else []
    return "\n".join([head, *[f"  - {line}" for line in shown], *more])


def design_from_dict(raw: Any, source: str = "<design>") -> DesignBase:
    """Validate a design given as a dict (what the YAML file holds)."""
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise DesignError(f"{source}: a design must be a mapping of keys (name, kind, data, ...), got {got}")
    kind = raw.get("kind")
    if kind is None:
        raise DesignError(f"{source}: kind: required key missing; expected one of: {', '.join(KINDS)}")
    if kind not in KINDS:
        raise DesignError(
            f"{source}: kind: {echo(kind)} is not a design kind; expected one of: {', '.join(KINDS)}"
            f"{did_you_mean(str(kind)[:ECHO_LIMIT], KINDS)}"
        )
    try:
        return design_adapter().validate_python(raw)
    except ValidationError as exc:
        raise DesignError(format_validation_error(exc, source, raw)) from None
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        # A validator that runs before the types are checked met a value of the wrong shape (a mapping or a
        # list where a name belongs); pydantic passes such errors through instead of locating them.
        raise DesignError(
            f"{source}: a value in the design has the wrong shape ({type(exc).__name__}: {echo(str(exc))}); "
            "compare the keys with `cpeval schema` (a name where a name belongs, a list where a list does)"
        ) from exc


def _loc_to_key(loc: tuple[Any, ...], kind: str) -> tuple[str, list[Any], list[str]]:
    """(the key as written in the design, the path into the raw mapping, the keys allowed where the last part
    sits). Discriminated unions put their tag in the location (``estimator.twfe.leads``); it is dropped."""
    parts, allowed = _walk(kind, list(loc))
    key = ""
    for p in parts:
        if isinstance(p, int):
            key += f"[{p}]"
        else:
            name = str(p)
            key += ("." if key else "") + (name if len(name) <= ECHO_LIMIT else f"{name[:ECHO_LIMIT]}...")
    return key or "(top level)", parts, allowed


def _lookup(raw: Any, parts: list[Any]) -> Any:
    node = raw
    for p in parts:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _members(annotation: Any) -> list[Any]:
    """The pydantic models an annotation can hold (through Optional, unions, lists and Annotated)."""
    import typing

    from pydantic import BaseModel

    found, todo = [], [annotation]
    while todo:
        ann = todo.pop(0)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            found.append(ann)
        todo += list(typing.get_args(ann))
    return found


def _tagged(members: list[Any], tag: Any) -> Any:
    """The union member whose single-valued Literal field (its discriminator) equals ``tag``, if any."""
    import typing

    for m in members:
        if tag in m.model_fields:
            continue
        for f in m.model_fields.values():
            if typing.get_origin(f.annotation) is typing.Literal and typing.get_args(f.annotation) == (tag,):
                return m
    return None


def _walk(kind: str, loc: list[Any]) -> tuple[list[Any], list[str]]:
    """The location with discriminated-union tags removed, and the valid keys of the model holding its last
    part (for did-you-mean on unknown keys)."""
    from cpeval.designs.did import DidDesign
    from cpeval.designs.rct import RctDesign
    from cpeval.designs.synth import SynthDesign

    if loc and loc[0] == kind:  # the discriminated union of designs puts the kind first
        loc = loc[1:]
    model: Any = {"did": DidDesign, "synthetic_control": SynthDesign, "rct": RctDesign}.get(kind)
    parts: list[Any] = []
    holder: Any = model
    i = 0
    while i < len(loc):
        p = loc[i]
        parts.append(p)
        i += 1
        if isinstance(p, int) or model is None:
            continue
        holder = model
        field = model.model_fields.get(p)
        members = _members(field.annotation) if field is not None else []
        chosen = _tagged(members, loc[i]) if members and i < len(loc) and isinstance(loc[i], str) else None
        if chosen is not None:
            i += 1
        model = chosen or (members[0] if members else None)
    keys = [f.alias or name for name, f in holder.model_fields.items()] if holder is not None else []
    return parts, keys


# Union members add their type to an error's location (``float``, ``list[DiscountStep]``, ``DidDesign``).
_UNION_TAG = re.compile(r"^([A-Z]\w*|str|int|float|bool|none|(list|dict|tuple|function-\w+|literal)\[.*\])$")


def _relevant(errors: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[Any, ...]]]:
    """Errors with union tags removed from their locations. Where a value failed one member of a union
    only because it is of another member's type ("input should be a valid number") while it reached
    inside another member, the type complaint is dropped: the deeper error is the one to fix."""
    located = [(e, tuple(p for p in e["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))) for e in errors]
    deeper = {loc[:n] for e, loc in located if not e["type"].endswith(("_type", "_parsing"))
              for n in range(len(loc))}
    return [(e, loc) for e, loc in located if not (e["type"].endswith(("_type", "_parsing")) and loc in deeper)]


def format_validation_error(exc: ValidationError, source: str, raw: dict[str, Any]) -> str:
    kind = raw.get("kind", "")
    lines = []
    for err, loc in _relevant(exc.errors(include_url=False)):
        etype = err["type"]
        key, parts, valid = _loc_to_key(loc, kind)
        if etype == "extra_forbidden":
            bad = parts[-1] if parts else key
            hint = did_you_mean(str(bad)[:ECHO_LIMIT], valid)
            where = key.rsplit(".", 1)[0] if "." in key else "(top level)"
            msg = f"unknown key {echo(bad)} in {where}{hint}"
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
                f"{key}: {echo(value)} is not allowed; expected one of {expected}"
                f"{did_you_mean(str(value)[:ECHO_LIMIT], choices)}"
            )
        elif etype == "value_error":
            text = _LONG_QUOTED.sub(lambda m: echo(m.group(1)), err["msg"].removeprefix("Value error, "))
            lines.append(f"{key}: {text}")
        else:
            shown = "" if value is None and "input" not in err else f" (got {echo(err.get('input'))})"
            lines.append(f"{key}: {err['msg'][0].lower()}{err['msg'][1:]}{shown}")
    # A union of int|str reports the same key twice; keep each message once, in order.
    unique = list(dict.fromkeys(lines))
    n = len(unique)
    return _listing(f"{source}: {n} problem{'s' if n != 1 else ''} in the design:", unique)


def design_schema() -> dict[str, Any]:
    """The JSON Schema of the design format (for editors: VS Code's YAML extension and others)."""
    schema = design_adapter().json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cpeval design"
    return schema


def design_hash(design: DesignBase) -> str:
    """sha256 of the design's canonical JSON (sorted keys), independent of YAML layout and comments."""
    payload = json.dumps(design.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


_ADAPTER: list[TypeAdapter[DesignBase]] = []  # the validator of the Design union, built on first use


def design_adapter() -> TypeAdapter[DesignBase]:
    """The validator of the Design union (a discriminated union on ``kind``), built once and again after a
    design model changed (a method registered at run time)."""
    if not _ADAPTER:
        from pydantic import TypeAdapter

        from cpeval.designs.did import DidDesign
        from cpeval.designs.rct import RctDesign
        from cpeval.designs.synth import SynthDesign

        union = Annotated[Union[DidDesign, SynthDesign, RctDesign], Field(discriminator="kind")]  # noqa: UP007
        _ADAPTER.append(TypeAdapter(union))
    return _ADAPTER[0]


def rebuild_adapter() -> None:
    _ADAPTER.clear()


on_change(rebuild_adapter)
