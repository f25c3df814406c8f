"""Execute the numbered notebook series with papermill (the README's main job).

The notebooks' one source is their jupytext percent script (``notebooks/00_*.py``,
``# %%`` cells, one cell tagged ``parameters``); no ``.ipynb`` is kept in the
repository. :func:`run_series` converts each script with jupytext into ``out``
and executes that copy in place with papermill, with ``notebooks/`` as working
directory — as when a researcher opens the script as a notebook in Jupyter — so
the sources stay free of outputs. A failing cell stops the series with
papermill's error (the executed copy up to that cell is kept).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

_NUMBERED = re.compile(r"^\d\d_.*\.py$")


def series(notebooks_dir: Path) -> list[Path]:
    """The numbered percent scripts (00_, 01_, …) in order."""
    return sorted(p for p in Path(notebooks_dir).iterdir() if _NUMBERED.match(p.name))


def to_notebook(script: Path, target: Path) -> Path:
    """Convert a percent script into an unexecuted ``.ipynb`` at ``target``."""
    import jupytext

    nb = jupytext.read(script, fmt="py:percent")
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, target, fmt="ipynb")
    return target


def run_series(notebooks_dir: Path, out_dir: Path, parameters: dict | None = None, only: str | None = None) -> list[Path]:
    """Convert and execute every numbered script (those whose name contains ``only``); returns executed copies."""
    import papermill as pm

    out_dir = Path(out_dir)
    done = []
    for script in series(notebooks_dir):
        if only and only not in script.name:
            continue
        target = to_notebook(script, out_dir / f"{script.stem}.ipynb")
        t0 = time.perf_counter()
        print(f"[ppol-nb] executing {script.name} -> {target}", flush=True)
        pm.execute_notebook(
            str(target), str(target), parameters=parameters or {}, cwd=str(script.parent.resolve()),
            kernel_name="python3", progress_bar=False, request_save_on_cell_execute=True,
        )
        print(f"[ppol-nb] {script.name} done in {time.perf_counter() - t0:.0f} s", flush=True)
        done.append(target)
    if not done:
        raise SystemExit(f"no numbered notebooks (NN_*.py) found in {notebooks_dir}"
                         + (f" matching {only!r}" if only else ""))
    return done
