# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Agent training: does an agent trained on PPol rollouts do better with users it never met?
#
# **Question.** The paper's third claim (§5.5, Tables 2, 7, 8): an agent fine-tuned (LoRA SFT) on default + PPol
# trajectories is 17 % better (relative) on out-of-distribution users — the four τ-trait suites Skeptical,
# Incoherent, Impatient, Confusion — than one fine-tuned on default trajectories only, at equal size; the paper ran
# each test task once, without intervals. Here: collect train-task rollouts with the default user and with PPol
# personas (notebook 02's evolved program when its run exists, else the shipped seed program), build both SFT
# regimes with the paper's data builder (`ppol_nb.training.sft_data.build_sft`: successful train episodes, cleaned,
# equal size, OpenAI chat JSONL + ShareGPT), train one agent per regime and seed, and evaluate it on the *test*
# tasks against the default user and the four trait suites, several seeds, with 95 % bootstrap intervals.
#
# **What "training" means here.** Offline (the default, and in CI) the agent is the offline rule agent and what is
# trained is its *reader of user turns*: a scikit-learn learner (`ppol_nb.offline.understanding.DialogueReader`)
# fitted on each regime's exported `openai_train.jsonl`, which decides which facts a user turn carries (yes/no
# answers stay with the hand rules: the exported successful dialogues teach only consent). It is an offline analogue,
# labelled offline everywhere: its numbers say nothing about LLM fine-tuning. The paper's LoRA recipe
# (`ppol_nb.training.lora`, `ppol-nb sft train`, docs/training.md) is for `backend="openai"` and a GPU: with that
# backend this notebook collects the rollouts through the endpoint, builds the SFT files and prints the
# `ppol-nb sft train` commands; it never trains LoRA itself (serve the adapters with vLLM and evaluate them as
# docs/training.md shows).

# %% tags=["parameters"]
domains = ["retail", "airline"]
seeds = [0, 1, 2]             # one reader per regime and seed; also the builder's seed and the evaluation episodes' seed
n_dialogues = 200             # the equal budget: the builder's cap on conversations per regime (10 % held out)
ppol_share = 0.5              # share of the mixed regime that is PPol
n_personas = 10               # PPol personas per train task (the paper: 10)
default_rollout_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # default-user rollouts per train task
program = {"retail": "02_evolution/retail-offline-notebook"}  # per domain: notebook 02's run (retail-<backend>-<profile>) under runs,
                                                        # or an absolute path / .py file; missing: the shipped seed program
train_limit = None            # first K train tasks; None: all
test_limit = None             # first K test tasks; None: all
backend = "offline"           # "offline": train and evaluate the reader | "openai": rollouts + SFT files + LoRA commands
model = None                  # openai: the model of every role (the base model LoRA would train)
base_url = None
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
runs = "runs"                 # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.studies.agent_training import AgentTrainingStudy
from ppol_nb.studies.layout import project_path

programs = {}
for domain in domains:
    path = project_path(runs, program[domain]) if program.get(domain) else None
    programs[domain] = path if path is not None and path.exists() else None
    print(f"{domain}: PPol personas from {programs[domain] or 'the shipped seed program'}"
          + (f" ({path} does not exist)" if path is not None and programs[domain] is None else ""))

study = AgentTrainingStudy(
    out=project_path(runs, "05_agent_training", backend), domains=tuple(domains), seeds=tuple(seeds),
    n_dialogues=n_dialogues, ppol_share=ppol_share, n_personas=n_personas,
    default_rollout_seeds=tuple(default_rollout_seeds), program=programs, train_limit=train_limit,
    test_limit=test_limit, figures=project_path(figures),
    backend=make_backend(backend, model=model, base_url=base_url, api_key_env=api_key_env, llm_config=llm_config,
                         preflight=True))
if backend == "offline":
    study.run()  # rollouts -> SFT files (build_sft) -> one reader per regime and seed -> test-task evaluation
else:
    study.build_data()  # the trained model is an LLM: the files and the recipe's commands, no training here
    print("\n".join(study.lora_commands(model or "$BASE")))
print({k: f"{v:.0f} s" for k, v in study.timings.items()})

# %% [markdown]
# ## What each regime was trained on
#
# One row per trained regime and seed: the exported train file (and its sha256 prefix; `runs/05_agent_training/…/
# manifest.json` has the full record), its conversations (default / PPol), the user turns and tagged words the
# reader learned from, and whether yes/no answers were learned or left to the rules.

# %%
study.budgets() if study.evaluated else [build.manifest["sizes"] for build in study.builds.values()]

# %% [markdown]
# ## Table 2, this run (offline analogue): success per suite, 95 % bootstrap intervals over (seed, test task)

# %%
study.display().assign(source=f"this run ({study.backend.name} backend)") if study.evaluated else "not evaluated"

# %% [markdown]
# ## The paper's Tables 2 (retail), 7 (airline), 8 (both) — source = paper, one run per task
#
# As printed. `ood_avg_consistent` flags a printed OOD average that is not the mean of its four entries (Table 7,
# Default-only: 0.400 printed, 0.3375 from the entries); `relative_ood_gain` is computed from the printed averages,
# `relative_ood_gain_of_entries` from the entries; `off_grid` names a rate that is no multiple of 1/tasks (Table 8,
# Default+PPol impatient 0.280 of 60 tasks). Table 8 pools both domains with a jointly trained model.

# %%
study.paper_table()[["table", "domain", "regime", "default", "skeptical", "incoherent", "impatient", "confusion",
                     "ood_avg", "ood_avg_of_entries", "ood_avg_consistent", "off_grid", "relative_ood_gain",
                     "relative_ood_gain_of_entries", "source"]].round(4)

# %% [markdown]
# ## Success per suite and regime, with intervals

# %%
if study.evaluated:
    study.plot();

# %% [markdown]
# ## What this run shows

# %%
from IPython.display import Markdown

Markdown(study.findings())
