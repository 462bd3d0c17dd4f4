"""examples/triage.ipynb runs top to bottom on a converted collection.

The code cells are executed in order in one namespace, as a kernel would, without Jupyter:
nbclient and ipykernel are not project dependencies. The notebook uses no IPython magics, so this
is the same code a kernel would run. matplotlib is optional for the notebook; with it installed the
plot is drawn on the non-interactive Agg backend.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_hunt_pack import build_fleet

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "triage.ipynb"


def run_notebook(path: Path, out: Path, cwd: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    namespace: dict = {"__name__": "__main__"}
    old_cwd, old_env = os.getcwd(), os.environ.get("TRIAGEPARSE_DEMO_OUT")
    os.environ["TRIAGEPARSE_DEMO_OUT"] = str(out)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(cwd)
    try:
        for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
            source = "".join(cell["source"])
            assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()), "no magics"
            exec(compile(source, f"{path.name}[code cell {i + 1}]", "exec"), namespace)
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop("TRIAGEPARSE_DEMO_OUT", None)
        else:
            os.environ["TRIAGEPARSE_DEMO_OUT"] = old_env
    return namespace


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    return build_fleet(tmp_path_factory.mktemp("nb"), dirty=True)


def test_notebook_runs_top_to_bottom(fleet):
    ns = run_notebook(NOTEBOOK, fleet, NOTEBOOK.parent)
    assert ns["rows"]["SecurityEvent"] > 0
    assert ns["per_hour"].sum().sum() == len(ns["recent"]) > 0
    assert set(ns["failed_logons"]["IpAddress"]) >= {"198.51.100.66", "198.51.100.77"}
    assert ns["HOST"] == "WS01"
    assert "failed_logon_burst" in set(ns["hits"]["query"])
    assert ns["logons"]["Computer"].eq("WS01").all() and len(ns["logons"]) > 0
    assert set(ns["connections"]["ProcessName"]) == {"chrome.exe", "System", "OneDrive.exe", "updater.exe"}
