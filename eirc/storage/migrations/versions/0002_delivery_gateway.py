"""delivery: the gateway of the latest attempt, the gateway's message id, and whether to ask its status first

Revision ID: 0002_delivery_gateway
Revises: 0001
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002_delivery_gateway"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("gateway_message_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ask_status_first", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("ask_status_first")
        batch_op.drop_column("gateway_message_id")
        batch_op.drop_column("gateway")
