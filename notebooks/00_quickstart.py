# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Quickstart: real τ² episodes, end to end
#
# **Question.** Does the pipeline run real τ²-bench tasks end to end — environment, tools, orchestrator and
# τ²'s own reward — and does the agent's behaviour matter for the score?
#
# We run the **test** tasks of τ² *retail* and *airline* with the chosen backend's agent and user simulator,
# next to a *do-nothing* agent that never calls a tool (when the backend can make one). By default the backend
# is **offline**: a deterministic cooperative user (the style the PPol paper criticises) and a
# policy-following agent, no network, no API key. Then the seed generator program (the paper's starting point)
# writes personas for one task. The findings at the end are computed from this run's numbers.
#
# A real endpoint is one parameter away: `backend="openai"`, `model=...`, `base_url=...` (OpenAI, vLLM,
# Ollama, llama.cpp), the key read from the environment variable named by `api_key_env` (`None` for a local
# server without a key).

# %% tags=["parameters"]
domains = ["retail", "airline"]
splits = ["test"]
seed = 0
limit = None                  # first K tasks of each split; None: all
backend = "offline"           # "offline" | "openai"
model = None                  # openai: model of the user simulator and the agent
base_url = None               # openai: e.g. "http://localhost:8000/v1"
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
persona_domain = "retail"     # personas section: one task of this domain
persona_task = "0"
n_personas = 5
runs = "runs"                 # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.studies.layout import project_path
from ppol_nb.studies.quickstart import QuickstartStudy

settings = {"model": model, "base_url": base_url, "api_key_env": api_key_env, "llm_config": llm_config}
study = QuickstartStudy(make_backend(backend, preflight=True, **settings),
                        comparison=make_backend(backend, agent="do-nothing", **settings),
                        domains=tuple(domains), splits=tuple(splits), seed=seed, limit=limit,
                        run_dir=project_path(runs, "00_quickstart", backend), figures=project_path(figures)).run()
study.table()

# %% [markdown]
# Success per domain and agent; the figure and its provenance sidecar go to `figures/`.

# %%
study.plot();

# %% [markdown]
# One episode of the agent under test, as τ² recorded it (tool calls and tool results included):

# %%
print(study.example_episode())

# %% [markdown]
# ## Personas on one task
#
# A persona policy changes *how* the user talks, never *what* it wants. The seed generator program (axes
# terse, skeptical, frustrated, ambiguous) proposes people for one task and writes each a roleplay
# instruction — text only, which the backend's user simulator reads as it reads any prompt. Each instruction is
# checked statically against the task (no new identifiers, amounts, dates, items or goals).

# %%
personas, persona_episodes = study.personas(persona_domain, task_id=persona_task, n=n_personas)
personas

# %%
persona_episodes

# %% [markdown]
# ## What this run shows

# %%
from IPython.display import Markdown

Markdown(study.findings())
