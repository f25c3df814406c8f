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
06_agent_stress_test     :mod:`.stress_test` ``StressTest``               §1, §5.5 (stress-test your agent)
=======================  ===============================================  ======================================

Shared by all: :mod:`.layout` (where runs and figures go: inside the repository,
whatever the working directory), :mod:`.figures` (every figure saved through
:func:`~.figures.save_figure`, with a JSON provenance sidecar and a caption naming
its backend and human corpus) and :mod:`.findings` (sentences built from a run's
numbers, compared with the paper's rows). Importing this package is cheap; each
study imports τ², scikit-learn and matplotlib when used.

Beside them, not in them: the statistics the studies report live in :mod:`ppol_nb.analysis`
(:mod:`~ppol_nb.analysis.blinded_stats`, :mod:`~ppol_nb.analysis.simulated_annotators`,
:mod:`~ppol_nb.analysis.judge_transfer`, :mod:`~ppol_nb.analysis.seed_sweep`) and the blinded
study's builder and annotation apps in :mod:`ppol_nb.apps` (:mod:`~ppol_nb.apps.blinded_study`,
:mod:`~ppol_nb.apps.annotation_app` served by ``ppol-nb study serve``,
:mod:`~ppol_nb.apps.annotation_widget` the same app in a notebook).
"""
