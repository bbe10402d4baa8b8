"""tract-tui: review the proposals that tract policies write into their SQLite database."""

__version__ = "0.1.0"
