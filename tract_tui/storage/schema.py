"""SQLAlchemy rows for every table of a tract v5 database.

Names, types, nullability, keys and index names match what the tract library
itself creates (``sqlite3 tests/fixtures/tract-v5.db .schema``); a test
compares the DDL statement by statement, so tract and tract-tui can keep
sharing one file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tract_tui.models.policy import CommitOperation, Priority
from tract_tui.storage.version import SCHEMA_VERSION as SCHEMA_VERSION


class Base(DeclarativeBase):
    """Declarative base of all tract tables."""


class BlobRow(Base):
    __tablename__ = "blobs"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload_json: Mapped[str] = mapped_column(Text, nullable=False)
    byte_size: Mapped[int] = mapped_column(Integer, nullable=False)
    token_count: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class CommitRow(Base):
    __tablename__ = "commits"

    commit_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tract_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    parent_hash: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("commits.commit_hash", ondelete="SET NULL"), nullable=True
    )
    content_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("blobs.content_hash"), nullable=False
    )
    content_type: Mapped[str] = mapped_column(String(50), nullable=False)
    operation: Mapped[CommitOperation] = mapped_column(
        Enum(CommitOperation, native_enum=False, create_constraint=False, length=6),
        nullable=False,
    )
    response_to: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("commits.commit_hash", ondelete="SET NULL"), nullable=True
    )
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_count: Mapped[int] = mapped_column(Integer, nullable=False)
    metadata_json: Mapped[Any] = mapped_column(JSON, nullable=True)
    generation_config_json: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (
        Index("ix_commits_tract_time", "tract_id", "created_at"),
        Index("ix_commits_response_to", "response_to"),
        Index("ix_commits_tract_type", "tract_id", "content_type"),
    )


class RefRow(Base):
    __tablename__ = "refs"

    tract_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ref_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    commit_hash: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), nullable=True
    )
    symbolic_target: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AnnotationRow(Base):
    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tract_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), nullable=False
    )
    priority: Mapped[Priority] = mapped_column(
        Enum(Priority, native_enum=False, create_constraint=False, length=6), nullable=False
    )
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (Index("ix_annotations_target_time", "target_hash", "created_at"),)


class CommitParentRow(Base):
    """v2: extra parents of merge commits."""

    __tablename__ = "commit_parents"

    commit_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), primary_key=True
    )
    parent_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_commit_parents_commit", "commit_hash"),)


class CompressionRow(Base):
    """v3: one compression of a branch."""

    __tablename__ = "compressions"

    compression_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tract_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    branch_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    original_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    compressed_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    target_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    instructions: Mapped[str | None] = mapped_column(Text, nullable=True)


class CompressionSourceRow(Base):
    """v3: the commits a compression replaced."""

    __tablename__ = "compression_sources"

    compression_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("compressions.compression_id"), primary_key=True
    )
    commit_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class CompressionResultRow(Base):
    """v3: the commits a compression produced."""

    __tablename__ = "compression_results"

    compression_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("compressions.compression_id"), primary_key=True
    )
    commit_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("commits.commit_hash"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)


class SpawnPointerRow(Base):
    """v4: a child tract spawned from a parent (they share the file)."""

    __tablename__ = "spawn_pointers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_tract_id: Mapped[str] = mapped_column(String(64), nullable=False)
    parent_commit_hash: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("commits.commit_hash", ondelete="SET NULL"), nullable=True
    )
    child_tract_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    inheritance_mode: Mapped[str] = mapped_column(String(20), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (
        Index("ix_spawn_child_tract", "child_tract_id"),
        Index("ix_spawn_parent_tract", "parent_tract_id"),
    )


class PolicyProposalRow(Base):
    """v5: an action a collaborative policy wants, awaiting review.

    status: pending / approved / rejected / expired / executed. Times are the
    writing machine's local time, naive (as tract writes them).
    """

    __tablename__ = "policy_proposals"

    proposal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tract_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    action_type: Mapped[str] = mapped_column(String(50), nullable=False)
    action_params_json: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_policy_proposals_tract_status", "tract_id", "status"),)


class PolicyLogRow(Base):
    """v5: one policy evaluation (or, written by tract-tui, one review decision)."""

    __tablename__ = "policy_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tract_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False)
    action_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    commit_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (Index("ix_policy_log_tract_time", "tract_id", "created_at"),)


class TraceMetaRow(Base):
    """Key/value metadata; ``schema_version`` holds the schema version as text."""

    __tablename__ = "_trace_meta"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


#: Tables each migration step creates: the step to version N creates MIGRATION_TABLES[N].
MIGRATION_TABLES: dict[int, tuple[str, ...]] = {
    2: ("commit_parents",),
    3: ("compressions", "compression_sources", "compression_results"),
    4: ("spawn_pointers",),
    5: ("policy_proposals", "policy_log"),
}

#: Tables of a version-1 database.
V1_TABLES: tuple[str, ...] = ("blobs", "_trace_meta", "commits", "refs", "annotations")
