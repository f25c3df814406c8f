"""ppol_nb — Persona Policies (PPol, arXiv:2605.12894) reproduced on real τ²-bench.

Importing the package is cheap; τ² (and litellm) load on first use of
:mod:`ppol_nb.simulation`.
"""

__version__ = "0.1.0"
