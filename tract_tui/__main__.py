"""``python -m tract_tui``: the same entry point as the ``tract-tui`` command."""

import sys

from tract_tui.cli import main

sys.exit(main())
