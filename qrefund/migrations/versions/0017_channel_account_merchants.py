"""service-provider links: an agency's channel account refunds its merchants' payments

Revision ID: 0017
Revises: 0016

``channel_account_merchants`` belongs to the agency (RLS on its ``tenant_id``, like
every tenant table): one row per merchant linked to the agency's service-provider
account, with the merchant's ``sub_mchid`` or sealed ``app_auth_token``. Payouts name
the account's tenant and the link they went with.

A merchant's payout job runs in the merchant's scope, where RLS hides the agency's
rows. The one read it needs beyond that — its parent agency's account and its own
link — goes through two functions, ``qrefund_parent_links(merchant)`` and
``qrefund_parent_accounts(merchant)``: each checks that the merchant is visible to
the caller, reads the parent recorded on the merchant, narrows the scope settings to
exactly that parent for one query (the link rows naming this merchant, or the
accounts those rows name), and puts the caller's settings back. The table policies
stay as they are; no other query of a merchant's unit sees an agency row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import qrefund.platform.sqltypes
from qrefund.migrations import rls

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'ACTIVE'")

# The body shared by both functions: {returns} rows of {query}, read with the scope
# settings narrowed to the merchant's recorded parent, then the caller's restored.
_PARENT_READ = """
CREATE OR REPLACE FUNCTION {name}(merchant uuid) RETURNS SETOF {returns}
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  caller_ids text := coalesce(current_setting('qrefund.tenant_ids', true), '');
  caller_all text := coalesce(current_setting('qrefund.all_tenants', true), '');
  parent uuid;
BEGIN
  SELECT t.parent_id INTO parent FROM tenants t
   WHERE t.id = merchant AND qrefund_tenant_visible(t.id);
  IF parent IS NULL THEN
    RETURN;
  END IF;
  PERFORM set_config('qrefund.tenant_ids', parent::text, true),
          set_config('qrefund.all_tenants', 'off', true);
  RETURN QUERY {query};
  PERFORM set_config('qrefund.tenant_ids', caller_ids, true),
          set_config('qrefund.all_tenants', caller_all, true);
END
$$
"""
LINKS_QUERY = ("SELECT l.* FROM channel_account_merchants l"
               " WHERE l.tenant_id = parent AND l.merchant_id = merchant")
ACCOUNTS_QUERY = ("SELECT a.* FROM payment_channel_accounts a WHERE a.tenant_id = parent"
                  " AND EXISTS (SELECT 1 FROM channel_account_merchants l"
                  " WHERE l.tenant_id = parent AND l.account_id = a.id"
                  " AND l.merchant_id = merchant)")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, qrefund.platform.sqltypes.UTCDateTime(timezone=True),
                     nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "channel_account_merchants",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("sub_merchant_ref", _string(32), nullable=True),
        sa.Column("secrets_enc", sa.Text(), nullable=True),
        sa.Column("created_by", _string(80), nullable=False),
        _time("created_at", nullable=False),
        _time("unlinked_at"),
        sa.Column("unlinked_by", _string(80), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["tenant_id", "account_id"],
                                ["payment_channel_accounts.tenant_id",
                                 "payment_channel_accounts.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    with op.batch_alter_table("channel_account_merchants", schema=None) as batch_op:
        batch_op.create_index("uq_channel_account_merchants_active",
                              ["tenant_id", "account_id", "merchant_id"], unique=True,
                              postgresql_where=ACTIVE, sqlite_where=ACTIVE)
        batch_op.create_index("ix_channel_account_merchants_merchant",
                              ["tenant_id", "merchant_id"], unique=False)
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_account_tenant_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("channel_link_id", sa.Uuid(), nullable=True))
    rls.enable("channel_account_merchants")
    if rls.is_postgres():
        op.execute(_PARENT_READ.format(name="qrefund_parent_links",
                                       returns="channel_account_merchants", query=LINKS_QUERY))
        op.execute(_PARENT_READ.format(name="qrefund_parent_accounts",
                                       returns="payment_channel_accounts",
                                       query=ACCOUNTS_QUERY))


def downgrade() -> None:
    if rls.is_postgres():
        op.execute("DROP FUNCTION IF EXISTS qrefund_parent_accounts(uuid)")
        op.execute("DROP FUNCTION IF EXISTS qrefund_parent_links(uuid)")
    rls.disable("channel_account_merchants")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("channel_link_id")
        batch_op.drop_column("channel_account_tenant_id")
    with op.batch_alter_table("channel_account_merchants", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_account_merchants_merchant")
        batch_op.drop_index("uq_channel_account_merchants_active")
    op.drop_table("channel_account_merchants")
