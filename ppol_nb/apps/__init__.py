"""Apps: what people use to take part in a blinded study (§5.4, App. G).

* :mod:`.blinded_study` — builds the study directory the apps serve (``study.json``
  served, ``key.json`` kept apart) and reads it back.
* :mod:`.annotation_app` — the FastAPI web app (``ppol-nb study serve``) over an
  append-only SQLite store, and the export of its answers (``ppol-nb study export``).
* :mod:`.annotation_widget` — the same app in a notebook (ipywidgets), same store.

This room sits below :mod:`ppol_nb.studies` (notebook 04's study reads the answers)
and above :mod:`ppol_nb.analysis` (the answers' columns are the statistics' columns).
"""
