"""``python -m sim`` is the ``fiscal-sim`` command."""

from .cli import main

raise SystemExit(main())
