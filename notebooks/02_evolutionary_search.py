# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Evolutionary search: does evolving the generator program make personas more human?
#
# **Question.** Starting from the seed generator program, does LLM-driven program search (islands + MAP-Elites
# on (P̄ human, B̄ cover), reflection-guided mutations; paper §3) find a generator whose personas score higher on
# the frozen fitness M = λ_h·P̄(human) + λ_b·B̄_cover — on held-out *test* tasks (Tables 3/4)?
#
# Training fitness uses minibatches of 5 train tasks (sliding window), N = 5 → 8 → 10 personas per task by epoch
# with the λ ramp; each new elite is validated on a held-out 20 % slice of the train tasks at N = 5, 8, 10 (whose
# humans the fitness never trained on); training rollouts stop after 20 τ² steps, validation and benchmark
# rollouts after 30, as in the authors' code; the final program is the best by mean validation score. The
# fitness model is notebook 01's when it fits this run (same corpus, same user simulator), else trained here.
#
# Offline (the default, profile `notebook`: 2 islands, 12 iterations, no early stop), mutations are deterministic text edits of the program and the generator,
# users and agent are the embedded stand-ins: the whole machinery runs — sandboxed candidates, resumable run
# database, validation, benchmark — but its numbers are offline-backend numbers. Profile `paper` with
# `backend="openai"` and `corpus="tau-usi"` is the paper's setting (a cost estimate is printed first).

# %% tags=["parameters"]
domain = "retail"
backend = "offline"          # "offline" | "openai"
model = None                 # openai: model for every role (generator, mutator, reflection, user, agent)
base_url = None
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
profile = "notebook"         # "notebook" (2 islands, 12 iterations) | "ci" (tests) | "paper" (5 islands, 70 iterations)
max_iterations = None        # None: the profile's budget; a number overrides it
corpus = "multiwoz"          # "multiwoz" | "tau-usi" | "abcd" | path to a JSONL corpus
train_limit = None           # first K train tasks (smoke runs); None: all
benchmark_limit = 4          # first K test tasks in the benchmark; None: all (the paper's setting)
n_personas = 10              # personas per test task in the benchmark
train_max_steps = 20         # τ² step cap of training rollouts (paper)
eval_max_steps = 30          # τ² step cap of validation and benchmark rollouts (paper)
executor = "processes"       # "processes" (one worker per core) | "local" (threads)
runs = "runs"                # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.execution import make_executor
from ppol_nb.studies.layout import project_path
from ppol_nb.studies.search import SearchStudy

study = SearchStudy(make_backend(backend, model=model, base_url=base_url, api_key_env=api_key_env,
                                 llm_config=llm_config, preflight=True),
                    domain=domain, profile=profile, max_iterations=max_iterations, corpus=corpus,
                    train_limit=train_limit, benchmark_limit=benchmark_limit, n_personas=n_personas,
                    train_max_steps=train_max_steps, eval_max_steps=eval_max_steps,
                    run_dir=project_path(runs, "02_evolution", f"{domain}-{backend}-{profile}"),
                    baseline_dir=project_path(runs, "01_baseline"), figures=project_path(figures),
                    executor=make_executor(executor))  # offline episodes are CPU-bound: "processes", one per core
print(study.prepare())

# %% [markdown]
# Run (or resume) the search. Every evaluated program is committed to `evolution.sqlite` as it completes;
# re-executing this cell after an interruption continues the same run.

# %%
print(study.search())

# %% [markdown]
# ## Training score per iteration and validation curves for N = 5, 8, 10 (Figure 3 analog)

# %%
study.plot_search();

# %% [markdown]
# ## The MAP-Elites archive

# %%
study.plot_archive();

# %% [markdown]
# ## Lineage of the final program, and its diff against the seed

# %%
study.lineage()

# %%
print(study.diff())

# %% [markdown]
# ## Personas of the final program on its last training minibatch (Appendix I analog)

# %%
study.personas()

# %% [markdown]
# ## Held-out benchmark (Tables 3/4 analog), ours beside the paper's

# %%
study.benchmark()

# %% [markdown]
# ## What this run shows

# %%
from IPython.display import Markdown

Markdown(study.findings())
