"""Templated analysis notebooks, one per design kind, executed with papermill (``cpeval notebook``).

Each template (``did.ipynb``, ``synthetic_control.ipynb``, ``rct.ipynb`` in this package) has a cell tagged
``parameters`` that papermill replaces: ``design_path`` (relative to the notebook's folder) and
``output_dir`` (``None``, or a folder for ``results.json``, ``report.md`` and ``figures/``). The notebooks call
only the public API: :func:`cpeval.evaluate`, ``result.tidy()`` and :class:`cpeval.report.notebook.ReportView`,
which cuts the same Markdown report ``cpeval run`` writes into sections.

The kernel is always the interpreter running cpeval: a throw-away kernel spec pointing at ``sys.executable``
is put first on ``JUPYTER_PATH`` while the notebook runs, so a ``python3`` kernel registered for another
Python (one without cpeval) is never picked up. The executed notebook's metadata names the ordinary
``python3`` kernel, so it opens anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

KINDS = ("did", "synthetic_control", "rct")
KERNEL_NAME = "cpeval-python"
PORTABLE_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def template_path(kind: str) -> Path:
    """The packaged template notebook for a design kind."""
    if kind not in KINDS:
        raise ValueError(f"no notebook template for design kind {kind!r}; kinds: {', '.join(KINDS)}")
    return Path(str(resources.files(__name__).joinpath(f"{kind}.ipynb")))


@contextlib.contextmanager
def this_interpreter_kernel() -> Iterator[str]:
    """A kernel name that runs ``sys.executable`` (with ipykernel), valid inside the ``with`` block."""
    with tempfile.TemporaryDirectory(prefix="cpeval-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            # warnings of the kernel's own log (transport, debugger) are noise to someone running an analysis
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": f"cpeval ({sys.executable})", "language": "python",
            "metadata": {"supported_encryption": ["curve"]},
        }))
        before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join([tmp, *([before] if before else [])])
        try:
            yield KERNEL_NAME
        finally:
            if before is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = before


def execute(
    design: str | Path, output: str | Path, *, output_dir: str | Path | None = None, progress: bool = True,
    timeout: int | None = 1800, run: bool = True,
) -> Path:
    """Render the template for ``design``'s kind to ``output`` and execute it; returns the notebook's path.

    ``run=False`` only fills in the parameters (a notebook to keep beside a case study, executed by its reader).

    The design is validated first (a bad design is a :class:`~cpeval.errors.DesignError` before any kernel
    starts). A cell that fails in the kernel becomes a :class:`~cpeval.errors.CpevalError` naming the cell
    and the error; the partly executed notebook is left at ``output`` to look at.
    """
    from cpeval.designs import load_design
    from cpeval.errors import CpevalError, OutputError

    design = Path(design).resolve()
    kind = load_design(design).kind
    output = Path(os.path.abspath(output))
    if output.suffix != ".ipynb":
        raise OutputError(f"{output}: a notebook file name ends in .ipynb")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a notebook file name such as analysis.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters: dict[str, Any] = {
        "design_path": _relative(design, output.parent),
        "output_dir": None if output_dir is None else _relative(Path(os.path.abspath(output_dir)), output.parent),
    }
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with this_interpreter_kernel() as kernel:
        try:
            papermill.execute_notebook(
                str(template_path(kind)), str(output), parameters=parameters, kernel_name=kernel,
                progress_bar=progress, cwd=str(output.parent), execution_timeout=timeout,
                report_mode=False, log_output=False, prepare_only=not run,
            )
        except PapermillExecutionError as exc:
            message = (f"{design.name}: the notebook stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue}; "
                       f"the partly executed notebook is {output}")
            if _is_cpeval_error(exc.ename):  # bad input found inside the kernel: the user's to fix
                raise CpevalError(message) from None
            raise RuntimeError(message) from None  # anything else is a bug, reported as an internal error
        finally:
            _portable_kernelspec(output)
    return output


def _is_cpeval_error(name: str) -> bool:
    import cpeval.errors

    cls = getattr(cpeval.errors, name, None)
    return isinstance(cls, type) and issubclass(cls, cpeval.errors.CpevalError)


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to the notebook's folder when they share a folder below the root, else absolute."""
    if os.path.commonpath([path, start]) == os.path.sep:
        return str(path)
    return os.path.relpath(path, start)


def _portable_kernelspec(path: Path) -> None:
    """Name the ordinary python3 kernel in the saved notebook (the temporary spec is gone after the run)."""
    if not path.is_file():
        return
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(PORTABLE_KERNELSPEC)
    nbformat.write(nb, path)
