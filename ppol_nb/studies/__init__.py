"""The studies behind the notebooks: one module per notebook, each a small object the notebook calls.

=======================  ===============================================  ======================================
notebook                 study                                            paper
=======================  ===============================================  ======================================
00_quickstart            :mod:`.quickstart` ``QuickstartStudy``           τ²-bench setting (§5.1 tasks)
01_baseline_simulator    :mod:`.baseline` ``BaselineStudy``               §3.3–3.4, Tables 3–6, Figure 4
02_evolutionary_search   :mod:`.search` ``SearchStudy``                   §3, Tables 3/4, Figure 3, App. I
03_fitness_ablations     :mod:`.ablation` ``AblationStudy``               none (an extension: ablations)
04_blinded_evaluation    :mod:`.blinded_evaluation`                       §5.4, Figure 5 (blinded study)
                         ``BlindedEvaluationStudy``
05_agent_training        :mod:`.agent_training` ``AgentTrainingStudy``    §5.5, Tables 2/7/8 (offline analogue)
=======================  ===============================================  ======================================

Shared by all: :mod:`.layout` (where runs and figures go: inside the repository,
whatever the working directory), :mod:`.figures` (every figure saved through
:func:`~.figures.save_figure`, with a JSON provenance sidecar and a caption naming
its backend and human corpus) and :mod:`.findings` (sentences built from a run's
numbers, compared with the paper's rows). Importing this package is cheap; each
study imports τ², scikit-learn and matplotlib when used.

The blinded human-vs-simulator study (notebook 04): :mod:`.blinded_study` builds it
(``study.json`` served, ``key.json`` kept apart), :mod:`.annotation_app` serves it
(``ppol-nb study serve``) and exports the answers (``ppol-nb study export``),
:mod:`.annotation_widget` is the same app in a notebook (same store), :mod:`.blinded_stats`
analyses the answers and :mod:`.simulated_annotators` stands in for people (labelled simulated).
"""
