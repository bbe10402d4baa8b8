"""The schema version tract-tui reads and writes (no SQLAlchemy here: cheap to import)."""

SCHEMA_VERSION = 5
