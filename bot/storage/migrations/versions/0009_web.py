"""web: sign-in links and sessions of the residents' web pages; ballots may come from the web

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("web_signin",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token_hash")
    )
    with op.batch_alter_table("web_signin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_signin_member_id"), ["member_id"], unique=False)

    op.create_table("web_session",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token_hash")
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_member_id"), ["member_id"], unique=False)

    # An owner's own ballot may now come from the web pages as well as from the chat.
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.drop_constraint("ballot_source", type_="check")
        batch_op.create_check_constraint("ballot_source", "source IN ('self', 'paper', 'proxy', 'web')")


def downgrade() -> None:
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.drop_constraint("ballot_source", type_="check")
        batch_op.create_check_constraint("ballot_source", "source IN ('self', 'paper', 'proxy')")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_member_id"))
    op.drop_table("web_session")
    with op.batch_alter_table("web_signin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_signin_member_id"))
    op.drop_table("web_signin")
