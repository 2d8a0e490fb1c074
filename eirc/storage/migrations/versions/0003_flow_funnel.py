"""flow: the furthest main-line step reached and the last error code (the onboarding funnel)

Revision ID: 0003_flow_funnel
Revises: 0002_delivery_gateway
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_flow_funnel"
down_revision: str | None = "0002_delivery_gateway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("furthest_step", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.create_index("ix_flow_kind_created", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flow", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_kind_created")
        batch_op.drop_column("last_error")
        batch_op.drop_column("furthest_step")
