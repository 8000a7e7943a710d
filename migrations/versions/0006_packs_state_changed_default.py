"""packs.state_changed_at defaults to the transaction's time, so that commissioning's COPY leaves it out

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 23:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL: a catalogue change only; SQLite (batch mode) copies the table
    with op.batch_alter_table('packs') as batch:
        batch.alter_column('state_changed_at', server_default=sa.text('CURRENT_TIMESTAMP'))


def downgrade() -> None:
    with op.batch_alter_table('packs') as batch:
        batch.alter_column('state_changed_at', server_default=None)
