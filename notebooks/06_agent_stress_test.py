# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Your agent, stress-tested: which users break it?
#
# **Question.** PPol exists so that researchers can evaluate *their* agents against users that behave like people
# (paper §1, §5.5). Given an agent — a τ²-compatible agent class `module:Class` (τ²'s `LocalAgent` interface), or
# any model on an OpenAI-compatible endpoint (`backend="openai"`, `agent_model`) — this notebook runs it on the
# held-out **test** tasks against the base simulator, direct personas (DP), the evolved generator of notebook 02's
# run (else the shipped seed program) and the four τ-trait suites (Skeptical, Incoherent, Impatient, Confusion), and
# reports success per condition with 95 % Wilson intervals (pass^k with `trials` > 1), the drop from base, which
# persona behaviours cost the agent most, and why episodes failed (user gave up, agent gave up, agent wrong).
#
# **Offline** (the default, and in CI) the agent is the **gold-plan offline agent**: it follows each task's gold plan
# and may use a fact only once the user has said it, so its pass rates measure whether the user gave the facts, not
# agent reasoning. They say how the users differ, never how a real agent fares; the same command
# (`ppol-nb stress-test`) measures a real one.

# %% tags=["parameters"]
domain = "retail"
agent_class = None            # "module:Class": a τ²-compatible agent class (None: the backend's own agent)
agent_model = None            # openai: the agent's model on the endpoint (the other roles use `model`)
program = {"retail": "02_evolution/retail-offline-notebook"}  # per domain, as in 05: notebook 02's run under runs
                                                        # (or an absolute path / .py); missing: the shipped seed program
n_personas = 3                # personas per test task (dp, ppol)
trials = 1                    # episodes per (task, persona); > 1 adds pass^k
limit = None                  # first K test tasks; None: all
backend = "offline"
model = None                  # openai: the model of every other role (user simulator, generator)
base_url = None
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
runs = "runs"                 # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.studies.layout import project_path
from ppol_nb.studies.stress_test import StressTest, with_agent

run_path = project_path(runs, program[domain]) if program.get(domain) else None
run_path = run_path if run_path is not None and run_path.exists() else None
print(f"PPol personas from {run_path or 'the shipped seed program'}")
world = with_agent(make_backend(backend, model=model or (None if llm_config else agent_model), base_url=base_url,
                                api_key_env=api_key_env, llm_config=llm_config),
                   agent_class=agent_class, agent_model=agent_model)
if agent_class is None:
    world.preflight()  # an openai endpoint: key, models and the agent model's tool calls, before anything runs
study = StressTest(world, project_path(runs, "06_stress_test", f"{domain}-{backend}"), domain=domain, run=run_path,
                   n_personas=n_personas, trials=trials, limit=limit, figures=project_path(figures),
                   config={"program": str(run_path) if run_path else None, "agent_class": agent_class,
                           "agent_model": agent_model, "model": model, "base_url": base_url})
study.run_all()
summary = study.write()
print(f"agent: {summary['agent']}")

# %% [markdown]
# ## Success per condition (95 % Wilson intervals over episodes) and the drop from base

# %%
study.table().round(3)

# %% [markdown]
# ## Which persona behaviours cost the agent most
#
# The behaviours the offline reader finds in each persona's instruction text (`ppol_nb.offline.reader`), over the
# persona episodes: episodes with the behaviour, failures among them, success with and without it; `cost` is the
# difference.

# %%
study.behaviours().round(3)

# %% [markdown]
# ## Why episodes failed (τ² termination reasons and the conversation)

# %%
study.failures()

# %%
study.plot();

# %% [markdown]
# ## What this run shows

# %%
from IPython.display import Markdown

Markdown("\n".join(f"- {line}" for line in study.findings()))
