"""``python -m sim`` is the ``fiscal-sim`` command."""

from sim.cli import main

raise SystemExit(main())
