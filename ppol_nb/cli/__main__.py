"""``python -m ppol_nb.cli``: the same command line as the ``ppol-nb`` entry point."""

from . import main

raise SystemExit(main())
