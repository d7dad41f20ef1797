"""rooms have a language; the group pointer to a private chat is limited per member and day

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_room", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pointed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("pointed_at")
    with op.batch_alter_table("chat_room", schema=None) as batch_op:
        batch_op.drop_column("locale")
