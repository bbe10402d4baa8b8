"""Scripts that run inside an environment where the real tract library is installed.

tract-tui never imports the library; these scripts do, in their own
interpreter (``TRACT_TUI_TRACT_PYTHONS``), and tests/test_real_library.py
compares their answers with tract-tui's. ``make_tract_db.py`` is the
library authors' generator (MIT, see LICENSE.tract), copied unchanged.
"""
