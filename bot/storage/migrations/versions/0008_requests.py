"""requests: residents' requests, parties, handlers, suggestions; following and evaluating implementation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("request_party",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("community_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(["community_id"], ["community.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("community_id", "name")
    )
    with op.batch_alter_table("request_party", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_party_community_id"), ["community_id"], unique=False)

    op.create_table("request_handler",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("party_id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('handler', 'supervisor')", name="request_handler_role"),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["party_id"], ["request_party.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("party_id", "member_id")
    )
    with op.batch_alter_table("request_handler", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_handler_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_handler_party_id"), ["party_id"], unique=False)

    op.create_table("request_settings",
    sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("routes", sa.JSON(), nullable=False),
    sa.Column("response_hours", sa.Integer(), nullable=False),
    sa.Column("urgent_response_hours", sa.Integer(), nullable=False),
    sa.Column("resolution_days", sa.Integer(), nullable=False),
    sa.Column("rating_days", sa.Integer(), nullable=False),
    sa.Column("recurring_households", sa.Integer(), nullable=False),
    sa.Column("recurring_days", sa.Integer(), nullable=False),
    sa.Column("street_party_id", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["community_id"], ["community.id"], ),
    sa.ForeignKeyConstraint(["street_party_id"], ["request_party.id"], ),
    sa.PrimaryKeyConstraint("community_id")
    )
    op.create_table("request_suggestion",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("community_id", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(length=64), nullable=False),
    sa.Column("scope", sa.String(length=40), nullable=False),
    sa.Column("request_ids", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("proposal_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'proposed')", name="request_suggestion_state"),
    sa.ForeignKeyConstraint(["community_id"], ["community.id"], ),
    sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("request_suggestion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_suggestion_community_id"), ["community_id"], unique=False)

    op.create_table("resident_request",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("community_id", sa.Integer(), nullable=False),
    sa.Column("author_member_id", sa.Integer(), nullable=False),
    sa.Column("household_key", sa.String(length=40), nullable=False),
    sa.Column("category", sa.String(length=64), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("location", sa.String(length=40), nullable=False),
    sa.Column("scope", sa.String(length=40), nullable=False),
    sa.Column("urgent", sa.Boolean(), nullable=False),
    sa.Column("party_id", sa.Integer(), nullable=True),
    sa.Column("handler_member_id", sa.Integer(), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("response_due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("response_stage", sa.Integer(), nullable=False),
    sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolution_stage", sa.Integer(), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution_note", sa.Text(), nullable=True),
    sa.Column("reopened", sa.Integer(), nullable=False),
    sa.Column("rating", sa.String(length=16), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("whistled", sa.Boolean(), nullable=False),
    sa.CheckConstraint("state IN ('submitted', 'in_progress', 'resolved', 'closed')", name="request_state"),
    sa.ForeignKeyConstraint(["author_member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["community_id"], ["community.id"], ),
    sa.ForeignKeyConstraint(["handler_member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["party_id"], ["request_party.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("resident_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_request_author_member_id"), ["author_member_id"], unique=False)
        batch_op.create_index("ix_resident_request_community_state", ["community_id", "state"], unique=False)

    op.create_table("proposal_follow",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("proposal_id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("following", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("proposal_id", "member_id")
    )
    with op.batch_alter_table("proposal_follow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_follow_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_follow_proposal_id"), ["proposal_id"], unique=False)

    op.create_table("proposal_evaluation",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("proposal_id", sa.Integer(), nullable=False),
    sa.Column("household_key", sa.String(length=40), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("rating", sa.String(length=16), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("rating IN ('satisfied', 'basic', 'unsatisfied')", name="evaluation_rating"),
    sa.ForeignKeyConstraint(["member_id"], ["member.id"], ),
    sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("proposal_id", "household_key")
    )
    with op.batch_alter_table("proposal_evaluation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_evaluation_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("proposal_evaluation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_evaluation_proposal_id"))

    op.drop_table("proposal_evaluation")
    with op.batch_alter_table("proposal_follow", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_follow_proposal_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_follow_member_id"))

    op.drop_table("proposal_follow")
    with op.batch_alter_table("resident_request", schema=None) as batch_op:
        batch_op.drop_index("ix_resident_request_community_state")
        batch_op.drop_index(batch_op.f("ix_resident_request_author_member_id"))

    op.drop_table("resident_request")
    with op.batch_alter_table("request_suggestion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_suggestion_community_id"))

    op.drop_table("request_suggestion")
    op.drop_table("request_settings")
    with op.batch_alter_table("request_handler", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_handler_party_id"))
        batch_op.drop_index(batch_op.f("ix_request_handler_member_id"))

    op.drop_table("request_handler")
    with op.batch_alter_table("request_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_party_community_id"))

    op.drop_table("request_party")
