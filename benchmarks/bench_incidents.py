"""Aggregating incident records with DuckDB: 20 million generated incidents to ward x month.

    .venv/bin/python benchmarks/bench_incidents.py [--rows 20000000] [--keep DIR]

Writes the records as Parquet (in chunks, so generating them needs little memory) and a DuckDB file, then, each
in a fresh process so that its peak resident memory is its own: the aggregation alone (counts by offence
category, with and without repeat victims, from Parquet and from the DuckDB file; with the ward found from
coordinates and the city's boundaries; and split by one time-of-week band), and the whole ``cpeval run`` of a
design on the Parquet file.
Figures are printed as a Markdown table (copied to benchmarks/README.md). Peak memory is the child's own
high-water mark (VmHWM in /proc/self/status; ``ru_maxrss`` would carry the generating parent's peak through exec).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "case_studies" / "data" / "city_incidents"
CODES = np.array(["46", "46A", "44", "39", "039", "34A", "34B", "58A", "58C", "99Z"])
CODE_SHARES = np.array([0.30, 0.05, 0.15, 0.15, 0.02, 0.08, 0.02, 0.15, 0.05, 0.03])
MAP = {"46": "shoplifting", "46A": "shoplifting", "44": "bicycle_theft", "39": "theft_from_person",
       "039": "theft_from_person", "34A": "robbery", "34B": "robbery", "58A": None, "58C": None}


def generate(folder: Path, rows: int, seed: int = 2026, chunk: int = 2_000_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cpeval.data.boundaries import read_boundaries

    rng = np.random.default_rng(seed)
    bounds = read_boundaries(CITY / "wards.geojson", "ward", "bench")
    xmin, ymin, xmax, ymax = bounds.extent
    start = np.datetime64("2018-01-01T00:00:00", "us").astype(np.int64)
    span = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64) - start
    wards = pa.array([f"W{i + 1:02d}" for i in range(40)])
    codes = pa.array(CODES.tolist())
    text = pa.dictionary(pa.int8(), pa.string())
    schema = pa.schema([("occurred_at", pa.timestamp("us", tz="UTC")), ("offence_code", text), ("ward", text),
                        ("x", pa.float64()), ("y", pa.float64()), ("victim_id", pa.int64())])
    with pq.ParquetWriter(folder / "incidents.parquet", schema, compression="zstd") as writer:
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            victim = rng.integers(0, rows // 3, n)
            batch = pa.RecordBatch.from_arrays([
                pa.array(start + (rng.random(n) * span).astype(np.int64), pa.timestamp("us", tz="UTC")),
                pa.DictionaryArray.from_arrays(rng.choice(len(CODES), n, p=CODE_SHARES).astype(np.int8), codes),
                pa.DictionaryArray.from_arrays(rng.integers(0, 40, n).astype(np.int8), wards),
                pa.array(rng.uniform(xmin, xmax, n)), pa.array(rng.uniform(ymin, ymax, n)),
                pa.array(victim, mask=rng.random(n) < 0.6),
            ], schema=schema)
            writer.write_batch(batch)
    import duckdb
    import pandas as pd

    wards = pd.read_csv(CITY / "wards.csv")  # the programme starts in January 2021 in the city's treated wards
    months = pd.date_range("2018-01-01", "2023-12-01", freq="MS")
    table = wards.merge(pd.DataFrame({"month": months}), how="cross")
    table["treated"] = ((table["first_treated"] > 0) & (table["month"].dt.year >= table["first_treated"])).astype(int)
    table[["ward", "month", "population", "treated"]].to_csv(folder / "ward_months.csv", index=False,
                                                             date_format="%Y-%m-%d")
    with duckdb.connect(str(folder / "incidents.duckdb")) as con:
        con.execute(f"CREATE TABLE incidents AS SELECT * FROM read_parquet('{folder / 'incidents.parquet'}')")


BAND = {"name": "patrol_hours", "days": ["thu", "fri", "sat"], "hours": "20:00-04:00"}


def design(folder: Path, source: dict, victims: bool, boundaries: bool, bands: list | None = None) -> dict:
    area = ({"boundaries": str(CITY / "wards.geojson"), "id_property": "ward", "x": "x", "y": "y"} if boundaries
            else {"column": "ward"})
    return {
        "name": "20 million incidents", "kind": "did",
        "data": {
            "source": source,
            "aggregate": {
                "area": area,
                "period": {"column": "occurred_at", "every": "month", "time_zone": "Europe/London",
                           "start": "2018-01-01", "end": "2023-12-31"},
                "offences": {"column": "offence_code", "map": MAP},
                **({"victims": {"column": "victim_id"}} if victims else {}),
                **({"bands": bands} if bands else {}),
                "join": {"path": str(folder / "ward_months.csv"), "period": "month",
                         "columns": ["population", "treated"]},
            },
            "unit": "ward", "time": "month", "population": "population",
        },
        "treatment": {"indicator": "treated"},
        "outcomes": [{"name": "shoplifting", "column": "shoplifting", "family": "crime", "measure": "count"},
                     {"name": "thefts", "family": "crime",
                      "total_of": ["shoplifting", "bicycle_theft", "theft_from_person", "robbery"]}],
        "estimator": {"method": "twfe", "cluster": "ward"},
        "inference": {"seed": 1},
    }


CHILD = """
import json, resource, sys, time
from cpeval.designs import design_from_dict
from cpeval.data.aggregate import aggregate_incidents
d = design_from_dict(json.loads(sys.argv[1]))
t = time.perf_counter()
agg = aggregate_incidents(d)
seconds = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_rss_mb": hwm / 1024, "cpu": use.ru_utime + use.ru_stime,
                  "rows_read": agg.provenance["incident_rows_read"], "panel_rows": len(agg.frame)}))
"""


def measure(spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


RUN = """
import time
started = time.perf_counter()
import json, resource, sys
from cpeval.cli import main
code = main(["run", sys.argv[1], "--out", sys.argv[2]])
use = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "seconds": time.perf_counter() - started, "peak_rss_mb": hwm / 1024,
                  "cpu": use.ru_utime + use.ru_stime}))
"""


def whole_run(folder: Path, spec: dict) -> dict:
    """``cpeval run`` in a fresh process (imports included), as a user would run it."""
    import yaml

    path = folder / "design.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = subprocess.run([sys.executable, "-c", RUN, str(path), str(folder / "out")], check=True,
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, out.stderr
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="folder for the generated records (kept)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cpeval-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "incidents.duckdb").exists():
        t = time.perf_counter()
        generate(folder, args.rows)
        print(f"generated {args.rows:,} records in {time.perf_counter() - t:.1f} s "
              f"({(folder / 'incidents.parquet').stat().st_size / 2**20:.0f} MB Parquet)", file=sys.stderr)
    parquet = {"kind": "files", "path": str(folder / "incidents.parquet")}
    duck = {"kind": "duckdb", "path": str(folder / "incidents.duckdb"), "table": "incidents"}
    cases = [
        ("Parquet, ward column, counts by category", design(folder, parquet, False, False)),
        ("DuckDB file, ward column, counts by category", design(folder, duck, False, False)),
        ("Parquet, ward column, counts + repeat victims", design(folder, parquet, True, False)),
        ("Parquet, ward from coordinates (40 polygons), counts", design(folder, parquet, False, True)),
        ("Parquet, ward column, counts split by one band (Thu-Sat 20:00-04:00 local)",
         design(folder, parquet, False, False, [BAND])),
    ]
    print(f"| case ({args.rows:,} incidents -> ward x month, {os.cpu_count()} cores) | seconds | CPU seconds "
          "(process) | peak RSS (MB) | load average (1 min, before -> after) |")
    print("|---|---|---|---|---|")
    for name, spec in cases:
        before = os.getloadavg()[0]
        r = measure(spec)
        assert r["rows_read"] == args.rows and r["panel_rows"] == 40 * 72, r
        print(f"| {name} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['peak_rss_mb']:.0f} | "
              f"{before:.1f} -> {os.getloadavg()[0]:.1f} |", flush=True)
    before = os.getloadavg()[0]
    r = whole_run(folder, design(folder, parquet, False, False))
    load = os.getloadavg()
    print(f"| whole `cpeval run` (Parquet, ward column, TWFE on 2 outcomes) | {r['seconds']:.1f} | {r['cpu']:.1f} | "
          f"{r['peak_rss_mb']:.0f} | {before:.1f} -> {load[0]:.1f} |")
    print(f"\nload average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}")


if __name__ == "__main__":
    main()
