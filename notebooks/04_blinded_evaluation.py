# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Blinded evaluation statistics: do people take PPol's customers for humans?
#
# **Question.** The paper's headline (§5.4, Figure 5) is a blinded study: 16 annotators judged 87 τ² retail
# conversations; PPol personas were rated human 80.4 % of the time, real humans 80.0 %, the base simulator 46.5 %
# (Welch t = 3.556, p = 6.37e-4), and discriminator P(human) correlated with the judgements (r = 0.49). Its
# materials are not released. Here the same kind of study is built from this repository's runs — held-out humans of
# notebook 01's corpus, notebook 01's base-simulator test episodes, notebook 02's evolved-program benchmark episodes —
# blinded (no ids, models or control tokens; attention checks mixed in), and analysed: share rated human with Wilson
# intervals beside the paper's, the paper's Welch test, a mixed-effects logit (annotator and conversation random
# effects), an equivalence test of PPol vs humans, Krippendorff's α, attention-check exclusions, the point-biserial
# correlation with discriminator P(human), and a power analysis.
#
# **Answers.** Real judgements come from people: serve the study with `ppol-nb study serve STUDY --annotators N`
# (each annotator gets a link) or annotate in this notebook (the widget below, same store), then
# `ppol-nb study export STUDY --out answers.csv` and set `answers` to that file. With `answers = None` (the default,
# and in CI) the answers come from **simulated annotators**, labelled simulated in every table, figure and finding.
# What they are (`simulated_annotators = "blind"`, the default): each simulated annotator sees only the served text
# of a conversation — never its source — and answers "human" with a probability from a judge the search never
# optimised (a calibrated logistic transfer judge, fitted here on human and base-simulator conversations that are
# not in the study, applied to the fingerprint of the conversation's customer turns), shifted by the annotator's own
# bias and per-judgement noise; scripted attention checks are spotted from their text. They are a text classifier
# with people-like spread, not people. `simulated_annotators = "known_truth"` instead draws answers from each item's
# source at `simulated_rates` (a known truth, to check that the statistics recover it).

# %% tags=["parameters"]
domain = "retail"
backend = "offline"          # the backend of notebooks 01-02's runs: "offline" | "openai"
model = None                 # openai backend: the model those runs used
base_url = None
api_key_env = "OPENAI_API_KEY"
llm_config = None             # openai: LLM config file or recipe ("paper", "local"), role by role; docs/llm-config.md
profile = "notebook"         # notebook 02's profile (names its run directory)
sources = ["human", "base", "ppol"]   # add "dp" and/or "ppol_initial" for the benchmark's other personas
per_source = 29              # conversations per source (the paper: 87 over three); capped by the smallest source
attention_checks = 3
seed = 0
answers = None               # CSV from `ppol-nb study export`; None: simulated annotators (labelled so)
n_annotators = 16            # simulated panel size (the paper kept 16)
simulated_annotators = "blind"     # "blind": judge the text alone (see above) | "known_truth": answer by source
simulated_rates = "discriminator"  # known_truth only: per source, mean discriminator P(human) of its conversations; or {source: rate}
margin = 0.10                # TOST: PPol and humans equivalent within ± this share
annotator_token = None       # a token from `ppol-nb study serve`: annotate here, in the widget
runs = "runs"                # relative paths are taken from the repository root, wherever this runs
figures = "figures"

# %%
from ppol_nb.backends import make_backend
from ppol_nb.studies.blinded_evaluation import BlindedEvaluationStudy
from ppol_nb.studies.layout import project_path

study = BlindedEvaluationStudy(
    make_backend(backend, model=model, base_url=base_url, api_key_env=api_key_env, llm_config=llm_config),
    domain=domain,
    baseline_dir=project_path(runs, "01_baseline"),
    search_dir=project_path(runs, "02_evolution", f"{domain}-{backend}-{profile}"),
    study_dir=project_path(runs, "04_blinded", f"{domain}-{backend}-{profile}"), sources=tuple(sources),
    per_source=per_source, n_attention=attention_checks, seed=seed,
    answers=project_path(answers) if answers else None, n_annotators=n_annotators,
    simulated_rates=simulated_rates, simulated_annotators=simulated_annotators, margin=margin, figures=project_path(figures)).run()
study.composition()

# %% [markdown]
# ## Annotating in the notebook
#
# With a token registered for this study (`ppol-nb study serve … --annotators N` prints one per annotator), the
# widget shows that annotator's conversations in their own order and writes every answer to the same SQLite store as
# the web app; reopening resumes where they stopped.

# %%
if annotator_token:
    from IPython.display import display

    from ppol_nb.apps.annotation_widget import AnnotationWidget

    display(AnnotationWidget(study.study_dir, annotator_token))
else:
    print(f"study directory: {study.study_dir} (no annotator_token given: no widget)")

# %% [markdown]
# ## Rated human per source, with Wilson 95 % intervals, beside the paper's

# %%
study.rates().round(4)

# %%
study.plot_rates();

# %% [markdown]
# ## The paper's Welch test (PPol vs base) and an equivalence test (PPol vs humans)

# %%
study.tests().round(4)

# %% [markdown]
# ## Mixed-effects logit: judged human ~ source + (1 | annotator) + (1 | conversation)
#
# The t-test treats every rating as independent; this model does not. With simulated answers the known conditional
# rates are shown beside the estimates.

# %%
study.mixed().round(3)

# %% [markdown]
# ## Agreement and attention-check exclusions

# %%
study.agreement().round(3)

# %%
study.exclusions()

# %% [markdown]
# ## Power: how many ratings and annotators a gap needs

# %%
study.power().round(3)

# %%
study.plot_power();

# %% [markdown]
# ## What this study shows

# %%
from IPython.display import Markdown

Markdown(study.findings())
