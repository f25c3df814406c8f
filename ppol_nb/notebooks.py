"""Execute the numbered notebook series with papermill (the README's main job).

Notebooks run with their own folder as working directory, exactly as when a
researcher opens them in Jupyter, and write figures to ``figures/`` at the top of
the repository. Executed copies go to ``out`` so the sources stay clean.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

_NUMBERED = re.compile(r"^\d\d_.*\.ipynb$")


def series(notebooks_dir: Path) -> list[Path]:
    """The numbered notebooks (00_, 01_, …) in order."""
    return sorted(p for p in Path(notebooks_dir).iterdir() if _NUMBERED.match(p.name))


def run_series(notebooks_dir: Path, out_dir: Path, parameters: dict | None = None, only: str | None = None) -> list[Path]:
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for nb in series(notebooks_dir):
        if only and only not in nb.name:
            continue
        target = out_dir / nb.name
        t0 = time.perf_counter()
        print(f"[ppol-nb] executing {nb.name} -> {target}", flush=True)
        pm.execute_notebook(
            str(nb), str(target), parameters=parameters or {}, cwd=str(nb.parent.resolve()),
            kernel_name="python3", progress_bar=False, request_save_on_cell_execute=True,
        )
        print(f"[ppol-nb] {nb.name} done in {time.perf_counter() - t0:.0f} s", flush=True)
        done.append(target)
    if not done:
        raise SystemExit(f"no numbered notebooks found in {notebooks_dir}")
    return done
