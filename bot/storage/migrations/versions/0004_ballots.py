"""ballots: sealed secret ballots, the keyed ledger's scheme

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The migration cannot know LEDGER_KEY, so an existing ledger is marked "sha256" and re-chained under
the key by the first process that writes to it or by ``yishi ledger rekey`` (see LedgerRepository.rekey).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=True))
    with op.batch_alter_table("ledger_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.String(length=16), nullable=False, server_default="hmac-sha256"))
    op.execute("UPDATE ledger_head SET scheme = 'sha256' WHERE seq > 0")


def downgrade() -> None:
    with op.batch_alter_table("ledger_head", schema=None) as batch_op:
        batch_op.drop_column("scheme")
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.drop_column("sealed")
