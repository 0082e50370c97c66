"""The appendix: what anyone needs to reproduce the evaluation (design, data and its hash, versions, seed,
command)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval.designs.methods import capabilities
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult


def data_source(data: dict[str, Any]) -> str:
    """Where the design's data come from, in words (never a password: SQL URLs carry none)."""
    if data.get("path"):
        return f"`{data['path']}`"
    if data.get("dataset"):
        return f"packaged dataset `{data['dataset']}`"
    src = data.get("source") or {}
    if not src:
        return "given in memory"
    where = src.get("path") or src.get("url") or ""
    what = f"table `{src['table']}`" if src.get("table") else ("a query" if src.get("query") else "")
    return f"{src.get('kind')} source `{where}`" + (f", {what}" if what else "") + " (incident records, aggregated)"


class Design(Section):
    key = "design"
    title = "Design"
    part = "appendix"

    def markdown(self, result: EvaluationResult) -> str:
        d = result.design
        data = d.get("data", {})
        est = d.get("estimator", {})
        kind, method = str(d.get("kind")), str(est.get("method"))
        lines = ["## Design", "", f"- Kind: `{kind}`; method: `{method}` ({capabilities(kind, method).title})",
                 f"- Data: {data_source(data)} (sha256 `{result.data_sha256[:16]}…`)"]
        keys = [("unit", data.get("unit")), ("period", data.get("time")), ("weights", data.get("weights") or "none")]
        lines.append("- " + "; ".join(f"{k}: `{v}`" for k, v in keys if v is not None))
        lines += [f"- Design file: `{result.design_origin or 'in memory'}` (hash `{result.design_hash[:16]}…`); "
                  f"cpeval {result.cpeval_version}", ""]
        return "\n".join(lines)


class Data(Section):
    key = "data"
    title = "Data"
    part = "appendix"

    def markdown(self, result: EvaluationResult) -> str:
        rows = [f"- {k.replace('_', ' ')}: {v}" for k, v in result.data_summary.items() if v is not None]
        return "\n".join(["## Data", "", *rows, ""]) if rows else ""


class Reproduce(Section):
    key = "reproduce"
    title = "Reproduce"
    part = "appendix"

    def markdown(self, result: EvaluationResult) -> str:
        d = result.design
        seed = (d.get("inference") or {}).get("seed")
        origin = result.design_origin
        command = f"cpeval run {origin}" if origin else "cpeval.evaluate(design, data) in Python (no design file)"
        versions = result.extras.get("versions") if result.extras else None
        lines = ["## Reproduce", "",
                 "| item | value |", "|---|---|",
                 f"| command | `{command}` |",
                 f"| design hash (sha256) | `{result.design_hash}` |",
                 f"| data hash (sha256) | `{result.data_sha256}` |",
                 f"| random seed | {seed if seed is not None else 'none (nothing random)'} |",
                 f"| cpeval | {result.cpeval_version} |"]
        lines += [f"| {k} | {v} |" for k, v in (versions or {}).items()]
        limit = (result.extras.get("disclosure") or {}).get("suppress_below")
        keep = (d.get("report") or {}).get("results_json", "full")
        sdc = (f"observed counts below {limit} shown as <{limit} (report.suppress_below); results.json: {keep}"
               if limit else "off (report.suppress_below: null)")
        lines.append(f"| disclosure control | {sdc} |")
        lines += ["", "The same design file and data (same hashes) with the same cpeval version give the same "
                  "results.json, byte for byte.", ""]
        return "\n".join(lines)
