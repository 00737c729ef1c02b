"""The import contract: every layer imports only the layers below it (``[tool.importlinter]`` in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# import-linter's command line, run by this interpreter (its console script may not be on PATH).
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_imports_go_down_the_layers():
    """A broken contract fails with import-linter's report: each upward import with its line, and the
    chain of modules when it goes through others (imports inside functions count too)."""
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-logo", "--no-cache", str(REPO / "pyproject.toml")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        # Wide lines, so an import chain is never wrapped mid-name in the report.
        env={**os.environ, "COLUMNS": "200"},
    )
    if result.returncode != 0:
        report = result.stdout + result.stderr
        broken = report[report.find("Broken contracts"):] if "Broken contracts" in report else report
        pytest.fail("an import goes up a layer (DESIGN.md, 'Layers and model kinds': app > benchmarks > "
                    "artifacts > modules > nets > data > core); import downward, or receive the object from the "
                    f"layer above instead:\n{broken.strip()}", pytrace=False)
