"""Wall time of every example design in designs/: ``cpeval.evaluate(path)`` end to end (read, validate, fit,
every declared check, cost-benefit), each in its own fresh process, after ``import cpeval``.

    .venv/bin/python benchmarks/bench_designs.py                 # every design, a Markdown table
    .venv/bin/python benchmarks/bench_designs.py designs/prop99.yaml

The target is under 10 s per design on a 2-core machine. The table also gives the CPU seconds (the process
and its placebo workers) and the load average at the start of each run, since the machine may be shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_PY = ROOT / ".venv" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"


def child(path: str) -> None:
    import warnings

    import cpeval

    warnings.simplefilter("ignore")
    t0, c0 = time.perf_counter(), os.times()
    result = cpeval.evaluate(path)
    seconds = time.perf_counter() - t0
    c1 = os.times()  # CPU of this process and of its finished worker processes (placebo refits)
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system
           - c0.user - c0.system - c0.children_user - c0.children_system)
    design = dict(result.design)
    print(json.dumps({"design": path, "seconds": seconds, "cpu_seconds": cpu, "kind": design.get("kind"),
                      "method": (design.get("estimator") or {}).get("method"),
                      "checks": [c.name for c in result.checks]}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    paths = sys.argv[1:] or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "designs").glob("*.yaml"))
    rows = []
    for path in paths:
        load = os.getloadavg()[0]
        proc = subprocess.run([str(MAIN_PY), __file__, "--child", path], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            rows.append({"design": path, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:],
                         "load": load})
        else:
            rows.append({**json.loads(proc.stdout.strip().splitlines()[-1]), "load": load})
        r = rows[-1]
        print(f"{path}: " + (f"error {r['error']}" if "error" in r else f"{r['seconds']:.2f} s"), flush=True)
    print("\n| design | method | checks | wall seconds | CPU seconds | load average |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| `{r['design']}` | error: {r['error']} | | | | {r['load']:.1f} |")
        else:
            print(f"| `{r['design']}` | {r['method']} | {len(r['checks'])} | {r['seconds']:.2f} | "
                  f"{r.get('cpu_seconds', float('nan')):.2f} | {r['load']:.1f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "designs.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
