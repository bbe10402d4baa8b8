"""The tract schema versions tract-tui opens (no SQLAlchemy here: cheap to import).

- 1..4: migrated to :data:`SCHEMA_VERSION` on a writable open, in one transaction.
- 5: tract-tui's own version; the policy tables arrived with it.
- 6..9 (:data:`POLICY_COMPATIBLE`): newer tract schemas whose two policy tables are
  byte-identical to v5's. Opened as they are: never migrated, ``_trace_meta`` never
  written; only the policy tables (and the ``ix_tui_*`` indexes) are touched. v7 never
  exists at rest (tract goes 6 -> 8 in one call) but opens if met; v9 writes no proposals.
- 10 and later: the policy tables are gone; refused.
"""

SCHEMA_VERSION = 5
POLICY_COMPATIBLE = frozenset({6, 7, 8, 9})
FIRST_WITHOUT_POLICY_TABLES = 10
#: The schema where tract stopped writing proposals (it keeps them in memory, through hooks).
NO_PROPOSALS_FROM = 9
#: The schema where a collaborative action is executed at once unless a ``policy`` hook defers it.
HOOKS_FROM = 8


def reviewed_range() -> str:
    """The versions tract-tui reviews, as a person reads them ("1..9")."""
    return f"1..{FIRST_WITHOUT_POLICY_TABLES - 1}"
