"""photos: the platform file ids of photos attached to residents' requests (never the bytes)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("request_photo",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("request_id", sa.Integer(), nullable=False),
    sa.Column("stage", sa.String(length=16), nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("file_id", sa.String(length=255), nullable=False),
    sa.Column("file_unique_id", sa.String(length=64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("media_group_id", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('report', 'resolve')", name="request_photo_stage"),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["request_id"], ["resident_request.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("request_id", "stage", "file_unique_id")
    )
    with op.batch_alter_table("request_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_photo_media_group_id"), ["media_group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_photo_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_photo_request_id"))
        batch_op.drop_index(batch_op.f("ix_request_photo_media_group_id"))

    op.drop_table("request_photo")
