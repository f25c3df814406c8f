# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Fitness ablations: which parts of the search matter, and does its HL survive a judge it never saw?
#
# **Question.** The paper asserts, without showing it, that both terms of M = λ_h·P̄(human) + λ_b·coverage are
# needed, that the λ ramp and the N curriculum help and that reflection-guided edits beat blind mutation. Run each
# search variant (paper, HL only, coverage only, fixed λ, no reflection, no MAP-Elites, no N curriculum, one island,
# and `paired`: a new best by paired comparison with the incumbent plus one confirmation, this package's earlier
# rule, where `paper` follows the authors' raw minibatch score) with the same budget and seeds, evaluate each run's chosen program on held-out *test* tasks, and compare with the
# `paper` variant by paired differences with 95 % intervals. Then score every variant with a second judge the
# search never saw (another model family, trained on other humans): a large drop in HL is discriminator hacking.
#
# This notebook is an **extension of the paper**, which reports no ablations: nothing here reproduces a paper
# number. Offline (the default) the mutator, generator, users and agent are deterministic stand-ins: the whole
# machinery runs, but the numbers are offline-backend numbers and cost nothing. Profile `paper`,
# `backend="openai"` and `corpus="tau-usi"` is the paper's setting (9 variants × seeds full searches: expensive).
# The same sweep runs from the command line as `ppol-nb ablate` (resumable). The default here is profile `notebook`
# (2 islands, 12 iterations, no early stop) with one seed per variant, so that all nine variants run within the main
# command's budget; the long study (paper profile, 48 runs) is in
# [docs/results/03_ablations_offline_paper_profile.md](../docs/results/03_ablations_offline_paper_profile.md).

# %% tags=["parameters"]
domain = "retail"
backend = "offline"          # "offline" | "openai"
model = None                 # openai: model for every role
base_url = None
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
profile = "notebook"         # "notebook" (2 islands, 12 iterations) | "ci" (tests) | "paper"
variants = ["paper", "hl_only", "coverage_only", "fixed_lambda", "no_reflection", "no_map_elites", "no_curriculum", "one_island",
            "paired"]
seeds = [0]                  # one run per variant and seed (the long study in docs/results/ uses 3)
max_iterations = None        # None: the profile's budget; a number overrides it for every run
train_limit = None           # first K train tasks (smoke runs); None: all
baseline_limit = None        # fitness model trained on the first K tasks per split (smoke runs); None: all
benchmark_limit = 4          # first K test tasks in the held-out evaluation; None: all
n_personas = 10              # personas per test task
corpus = "multiwoz"          # "multiwoz" | "tau-usi" | "abcd" | path to a JSONL corpus
executor = "processes"       # "processes" (one worker per core) | "local" (threads)
runs = "runs"                # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.execution import make_executor
from ppol_nb.studies.ablation import AblationStudy
from ppol_nb.studies.layout import project_path

study = AblationStudy(make_backend(backend, model=model, base_url=base_url, api_key_env=api_key_env,
                                   llm_config=llm_config, preflight=True),
                      domain=domain, variants=variants, seeds=seeds, profile=profile, max_iterations=max_iterations,
                      train_limit=train_limit, baseline_limit=baseline_limit, benchmark_limit=benchmark_limit,
                      n_personas=n_personas, corpus=corpus,
                      out=project_path(runs, "03_ablations", f"{domain}-{backend}-{profile}"),
                      figures=project_path(figures),
                      executor=make_executor(executor))  # offline episodes are CPU-bound: "processes", one per core

# %% [markdown]
# Run (or resume) the sweep: every (variant, seed) is an evolution run directory; a finished run is skipped.

# %%
study.run()
print(f"failed runs: {study.failures or 'none'}")

# %% [markdown]
# ## Variant table: held-out metrics with 95 % intervals, and paired differences against `paper`

# %%
study.table().round(3)

# %% [markdown]
# ## Score per variant

# %%
study.plot_scores();

# %% [markdown]
# ## HL vs coverage of every program the searches evaluated

# %%
study.plot_programs();

# %% [markdown]
# ## D1–D4 alignment per variant

# %%
study.plot_alignment();

# %% [markdown]
# ## Judge transfer: search-judge HL vs a judge the search never saw
#
# Humans are the transfer split's evaluation half only (the other half trained the transfer judge).

# %%
study.judge_transfer().round(3)

# %%
study.plot_judge_gap();

# %% [markdown]
# ## Cost per variant

# %%
study.costs()

# %% [markdown]
# ## What this sweep shows

# %%
from IPython.display import Markdown

Markdown(study.findings())
