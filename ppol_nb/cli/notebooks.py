"""``ppol-nb notebooks``: the notebook series, converted (jupytext) and executed in order (papermill)."""

from __future__ import annotations

import json
from pathlib import Path

from .backend_args import (
    _llm_config_arg,
)


def cmd_notebooks(args) -> int:
    from ..notebooks import run_series

    parameters = json.loads(args.parameters or "{}")
    if args.llm_config:
        from ..llm.config_file import RECIPES

        parameters.setdefault("backend", "openai")
        given = args.llm_config
        parameters["llm_config"] = given if given in RECIPES else str(Path(given).resolve())  # kernels' cwd differs
    run_series(Path(args.notebooks), Path(args.out), parameters=parameters, only=args.only)
    return 0


def register(sub) -> None:
    """``notebooks``."""
    n = sub.add_parser("notebooks", help="convert notebooks/NN_*.py (jupytext) and execute them in order with "
                                         "papermill (offline default)")
    n.add_argument("--notebooks", default="notebooks", help="folder of the percent scripts")
    n.add_argument("--out", default="runs/notebooks", help="where the executed .ipynb copies go")
    n.add_argument("--parameters", help='JSON of parameters given to every notebook, e.g. \'{"backend": "offline"}\'')
    n.add_argument("--only", help="run only notebooks whose name contains this")
    n.add_argument("--llm-config", metavar="FILE|RECIPE", type=_llm_config_arg,
                   help="LLM config file or recipe given to every notebook as its llm_config parameter "
                        "(with backend openai unless --parameters says otherwise)")
    n.set_defaults(func=cmd_notebooks)
