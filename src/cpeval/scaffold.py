"""``cpeval init``: a new evaluation folder that runs as it is.

The folder holds ``design.yaml`` (every key of the design kind written out, those the example does not set
commented, each with its type, default and description taken from :func:`cpeval.designs.design_schema` at the
time of writing, so the file follows the design format as it changes), ``data.csv`` (a small SIMULATED
dataset in the shape the design expects, from :mod:`cpeval.datasets`, seeded), ``analysis.ipynb`` (the
kind's template notebook) and a README with the commands to run it.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SEED = 2002
WIDTH = 110  # of comment lines
MAX_COMMENTED_DEPTH = 3  # levels of an unset section written out (commented) under its key


def _did_example() -> tuple[dict[str, Any], Any]:
    from cpeval.datasets.did import simulate_did

    frame = simulate_did(n_units=60, n_periods=8, cohorts=(4, 6), effect=-1.0, seed=SEED)
    frame = frame.rename(columns={"unit": "area", "y": "crime_rate", "x": "deprivation"})
    frame = frame.drop(columns="true_effect")
    design = {
        "name": "Example: a programme adopted by areas in two waves (SIMULATED data)",
        "kind": "did",
        "description": "Replace data.csv with your own panel (one row per area and period) and edit the columns.",
        "data": {"path": "data.csv", "unit": "area", "time": "period"},
        "treatment": {"first_treated": "first_treated"},
        "outcomes": [{"name": "crime_rate", "label": "Recorded crimes per 1,000 residents", "column": "crime_rate",
                      "family": "crime", "measure": "level", "better_if": "decrease"}],
        "estimator": {"method": "callaway_santanna", "cluster": "area"},
        "inference": {"level": 0.95, "seed": SEED},
        "checks": ["pre_trends"],
    }
    return design, frame


def _synth_example() -> tuple[dict[str, Any], Any]:
    from cpeval.datasets.synth import simulate_synth

    frame = simulate_synth(n_donors=20, n_pre=25, n_post=6, effect=-5.0, seed=SEED)  # 25: conformal p can reach 1/26
    start = int(frame.attrs["start"])
    frame = frame.rename(columns={"unit": "area", "time": "year", "y": "crime_rate", "x": "deprivation"})
    frame = frame.drop(columns=["y0", "treated_unit"])
    design = {
        "name": "Example: one area's programme against a synthetic control (SIMULATED data)",
        "kind": "synthetic_control",
        "description": "Replace data.csv with your own panel (one row per area and year) and edit the columns.",
        "data": {"path": "data.csv", "unit": "area", "time": "year"},
        "treatment": {"units": ["t0"], "start": start},
        "outcomes": [{"name": "crime_rate", "label": "Recorded crimes per 1,000 residents", "column": "crime_rate",
                      "family": "crime", "measure": "level", "better_if": "decrease"}],
        "estimator": {"method": "abadie"},
        "inference": {"level": 0.95, "seed": SEED},
        "checks": ["placebo_space"],
    }
    return design, frame


def _rct_example() -> tuple[dict[str, Any], Any]:
    from cpeval.datasets.rct import simulate_rct

    frame = simulate_rct(n_clusters=40, cluster_size=10, n_blocks=4, effect=-3.0, seed=SEED)
    frame = frame.rename(columns={"unit_id": "segment", "cluster_id": "beat", "block_id": "district",
                                  "y": "crime_harm", "x_baseline": "prior_crime_harm"})
    frame = frame.drop(columns=["received", "observed"])
    design = {
        "name": "Example: patrols randomised by beat within districts (SIMULATED data)",
        "kind": "rct",
        "description": "Replace data.csv with your own trial (one row per street segment) and edit the columns.",
        "data": {"path": "data.csv", "unit": "segment"},
        "treatment": {"assignment": "assigned", "block": "district", "cluster": "beat"},
        "outcomes": [{"name": "crime_harm", "label": "Crime-harm index, follow-up year", "column": "crime_harm",
                      "family": "seriousness", "measure": "level", "better_if": "decrease"}],
        "estimator": {"method": "lin", "covariates": ["prior_crime_harm"]},
        "inference": {"level": 0.95, "seed": SEED},
        "checks": ["balance"],
    }
    return design, frame


EXAMPLES: dict[str, Callable[[], tuple[dict[str, Any], Any]]] = {
    "did": _did_example, "synthetic_control": _synth_example, "rct": _rct_example,
}


def scaffold(name: str | Path, *, kind: str) -> list[Path]:
    """Create the evaluation folder ``name`` for a design ``kind``; returns the files written.

    The folder must not exist (nothing is overwritten). The design is validated before anything is written.
    """
    from cpeval.designs import design_from_dict, design_schema
    from cpeval.errors import DesignError, OutputError
    from cpeval.templates import template_path

    if kind not in EXAMPLES:
        raise DesignError(f"cpeval init: unknown kind {kind!r}; kinds: {', '.join(EXAMPLES)}")
    folder = Path(name)
    if folder.exists():
        raise OutputError(f"{folder}: already exists; cpeval init writes a new folder (choose another name)")
    example, frame = EXAMPLES[kind]()
    design_from_dict(example, source="the example design")  # a schema change that breaks it fails here
    text = commented_design(example, design_schema())
    design_from_dict(yaml.safe_load(text), source="the commented example design")
    try:
        folder.mkdir(parents=True)
        files = {
            "design.yaml": text,
            "data.csv": frame.to_csv(index=False, float_format="%.6g", lineterminator="\n"),
            "README.md": _readme(folder.name, kind, example),
        }
        written = []
        for file, content in files.items():
            (folder / file).write_text(content)
            written.append(folder / file)
        shutil.copyfile(template_path(kind), folder / "analysis.ipynb")
        written.append(folder / "analysis.ipynb")
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the evaluation folder: {exc.strerror or exc}") from exc
    return written


def _readme(name: str, kind: str, example: dict[str, Any]) -> str:
    return textwrap.dedent(f"""\
        # {name}

        A `{kind}` evaluation started by `cpeval init`. `data.csv` is SIMULATED example data in the shape the
        design expects ({example['name']}); replace it with your own and edit `design.yaml` (every key is
        there, those not used commented, with its type, default and meaning).

        Run it:

        ```bash
        cpeval run design.yaml --out out
        cpeval notebook design.yaml -o analysis.ipynb
        ```

        The first writes `out/results.json`, `out/report.md`, `out/report.html` and `out/figures/`; the
        second executes the analysis notebook (the same report, section by section, with the data checks,
        diagnostics and verdicts). `cpeval check design.yaml` validates the design and data without estimating, and
        `cpeval schema` prints the full design format.
        """)


# ---- the commented design, from the JSON Schema -------------------------------------------------------------

def commented_design(example: dict[str, Any], schema: dict[str, Any]) -> str:
    """YAML for ``example`` with every key of its kind's schema: set keys as values, the others commented."""
    defs = schema["$defs"]
    root = _deref(schema["discriminator"]["mapping"][example["kind"]], defs)
    header = [
        f"# cpeval design ({example['kind']}): every key of the format, with its type, default and meaning.",
        "# Keys the example does not use are commented out: remove the '# ' before a key to use it.",
        "# The full format: `cpeval schema`; validate with `cpeval check design.yaml`.",
        "",
    ]
    return "\n".join(header + _object_lines(root, example, defs, indent=0, commented=False, seen=())) + "\n"


def _deref(ref: str, defs: dict[str, Any]) -> dict[str, Any]:
    return defs[ref.rsplit("/", 1)[1]]


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The node behind a $ref or an optional (``anyOf [X, null]``) wrapper, and whether null is allowed."""
    nullable = False
    while True:
        if "$ref" in node:
            node = _deref(node["$ref"], defs)
            continue
        options = node.get("anyOf")
        if options and any(o.get("type") == "null" for o in options):
            rest = [o for o in options if o.get("type") != "null"]
            nullable = True
            if len(rest) == 1:
                node = {**rest[0], **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
                continue
            node = {**node, "anyOf": rest}
        return node, nullable


def describe_type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short reading of a JSON Schema node's type: ``one of a | b``, ``list of string, optional``, ..."""
    node, nullable = _resolve(node, defs)
    if "const" in node:
        text = json.dumps(node["const"])
    elif "enum" in node:
        text = "one of " + " | ".join(str(v) for v in node["enum"])
    elif "discriminator" in node:
        text = f"by {node['discriminator']['propertyName']}: " + " | ".join(node["discriminator"]["mapping"])
    elif "anyOf" in node or "oneOf" in node:
        text = " or ".join(describe_type(o, defs) for o in node.get("anyOf") or node["oneOf"])
    elif node.get("type") == "array":
        text = f"list of {describe_type(node.get('items', {}), defs)}" if node.get("items") else "list"
    elif "properties" in node or node.get("type") == "object":
        text = "mapping"
    else:
        text = str(node.get("type", "any"))
    return text + (", optional" if nullable else "")


def schema_reference(schema: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Every mapping of the design format (``$defs`` name -> its keys), each key with its type, default,
    whether it is required and its description, in the schema's order: the book's reference tables."""
    defs = schema["$defs"]
    tables: dict[str, list[dict[str, str]]] = {}
    for name, node in defs.items():
        props = node.get("properties")
        if not props:
            continue
        required = set(node.get("required", ()))
        rows = []
        for key, sub in props.items():
            inner, _ = _resolve(sub, defs)
            default = sub.get("default", inner.get("default", _MISSING))
            rows.append({
                "key": key, "type": describe_type(sub, defs),
                "default": "required" if key in required else ("" if default is _MISSING else _flow(default)),
                "description": (sub.get("description") or inner.get("description") or "").strip(),
            })
        tables[name] = rows
    return tables


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def _comment_block(text: str, pad: str) -> list[str]:
    return textwrap.wrap(text, width=WIDTH - len(pad) - 2, initial_indent=pad + "# ", subsequent_indent=pad + "# ")


def _object_lines(
    node: dict[str, Any], value: dict[str, Any] | None, defs: dict[str, Any], *, indent: int, commented: bool,
    seen: tuple[str, ...], item: bool = False,
) -> list[str]:
    """The keys of a mapping; ``item``: it is a list item, so its first key carries the ``- ``."""
    props: dict[str, Any] = node.get("properties", {})
    required = set(node.get("required", ()))
    given = value or {}
    keys = [k for k in given if k in props] + [k for k in props if k not in given]
    lines: list[str] = []
    for i, key in enumerate(keys):
        lines += _key_lines(key, props[key], given.get(key, _MISSING), defs, indent=indent,
                            commented=commented or key not in given, required=key in required, seen=seen,
                            dash=item and i == 0)
    return lines


_MISSING = object()


def _key_lines(
    key: str, node: dict[str, Any], value: Any, defs: dict[str, Any], *, indent: int, commented: bool,
    required: bool, seen: tuple[str, ...], dash: bool = False,
) -> list[str]:
    pad = " " * indent

    def head(text: str, comment: bool = commented) -> str:
        mark = "# " if comment else ""
        return f"{pad[:-2]}{mark}- {text}" if dash else f"{pad}{mark}{text}"

    inner, _ = _resolve(node, defs)
    about = (node.get("description") or inner.get("description") or "").strip()
    default = node.get("default", inner.get("default", _MISSING))
    facts = describe_type(node, defs) + ("; required" if required else "")
    if default is not _MISSING and default is not None and not isinstance(default, dict | list):
        facts += f"; default {_flow(default)}"
    lines = _comment_block(f"{about} [{facts}]" if about else f"[{facts}]", pad)
    if "discriminator" in inner:  # options that depend on a tag, e.g. the estimator's method
        tag = inner["discriminator"]["propertyName"]
        mapping = inner["discriminator"]["mapping"]
        chosen = value.get(tag) if isinstance(value, dict) else None
        if chosen not in mapping or commented:
            return [*lines, head(f"{key}:", True)]
        others = ", ".join(m for m in mapping if m != chosen)
        lines += _comment_block(f"Other values of {tag} ({others}) take other options: see `cpeval schema`.", pad)
        return [*lines, head(f"{key}:"), *_object_lines(_deref(mapping[chosen], defs), value, defs,
                                                        indent=indent + 2, commented=False, seen=seen)]
    ref = node.get("$ref") or next((o["$ref"] for o in node.get("anyOf", ()) if "$ref" in o), None)
    deep = len(seen) >= MAX_COMMENTED_DEPTH or (ref is not None and ref in seen)
    if "properties" in inner and (isinstance(value, dict) or value is _MISSING):
        if value is _MISSING and (deep or not inner["properties"]):
            return [*lines, head(f"{key}:" if inner["properties"] else f"{key}: {{}}", True)]
        sub = value if isinstance(value, dict) else None
        return [*lines, head(f"{key}:"), *_object_lines(inner, sub, defs, indent=indent + 2, commented=commented,
                                                        seen=(*seen, ref or key))]
    items = _resolve(inner["items"], defs)[0] if inner.get("type") == "array" and inner.get("items") else {}
    if "properties" in items:
        listed = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        if listed or (value is _MISSING and not deep):  # a list of mappings: each item's keys (commented if unset)
            lines.append(head(f"{key}:", not listed))
            for entry in value if listed else [None]:
                lines += _object_lines(items, entry, defs, indent=indent + 4, commented=not listed,
                                       seen=(*seen, key), item=True)
            return lines
    if value is _MISSING:
        shown = _flow(default) if default is not _MISSING else f"<{describe_type(node, defs)}>"
        return [*lines, head(f"{key}: {shown}", True)]
    return [*lines, head(f"{key}: {_flow(value)}")]
