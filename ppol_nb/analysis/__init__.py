"""Analysis: the statistics the studies report, pure functions and small models over tables and runs.

Nothing here runs an episode, serves a page or draws a figure; each module takes
tables (answers, fingerprints, run databases) and returns numbers, with the paper's
beside them where it reports the same quantity.

* :mod:`.blinded_stats` — the blinded human-vs-simulator study's statistics (§5.4, App. G).
* :mod:`.simulated_annotators` — seeded annotators standing in for people (labelled simulated).
* :mod:`.judge_transfer` — does HL survive a judge the search never saw (an extension).
* :mod:`.seed_sweep` — across search seeds: the gain, its spread, the accepted edits.

This room sits below :mod:`ppol_nb.studies` and :mod:`ppol_nb.apps` (they import it;
it imports neither) and above the library it reads (fitness, humans, evolution's run
database). Importing the package is cheap; each module imports NumPy/SciPy when imported.
"""
