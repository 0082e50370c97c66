"""Build hook: the wheel carries a copy of case_studies/data so `data.dataset: cpeval.<name>` works outside a clone.

The source of truth stays in case_studies/data (with its provenance README); at build time the CSV files and
the README are copied into the package as cpeval/datasets/_case_data/. A source checkout reads them in place.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CASE_DATA = Path(__file__).resolve().parent / "case_studies" / "data"


class BuildWithCaseData(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "cpeval" / "datasets" / "_case_data"
        target.mkdir(parents=True, exist_ok=True)
        for source in [*sorted(CASE_DATA.glob("*.csv")), CASE_DATA / "README.md"]:
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithCaseData})
