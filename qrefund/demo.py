"""Demo data: an agency, two merchants, keys (printed once) and transactions."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.roles import Role
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap


@dataclass
class DemoKeys:
    keys: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        width = max(len(k) for k in self.keys)
        return [f"{name.ljust(width)}  {secret}" for name, secret in self.keys.items()]


async def seed_demo(
    db: Database, *, transactions_per_merchant: int = 40, seed: int = 7
) -> DemoKeys:
    rng = random.Random(seed)
    out = DemoKeys()
    _operator, operator_key = await bootstrap(db)
    out.keys["operator ADMIN"] = operator_key
    operator = await authenticate(db, operator_key)
    async with db.unit_of_work(operator) as uow:
        agency = await tenants.create_agency(uow, name="Sunrise POS Services", slug="sunrise-pos")
        _k, out.keys["agency ADMIN (sunrise-pos)"] = await tenants.create_api_key(
            uow, tenant_id=agency.id, name="demo agency admin", role=Role.ADMIN, expires_at=None
        )
        merchants = [
            await tenants.create_merchant(
                uow,
                name=name,
                slug=slug,
                agency_id=agency.id,
                timezone="Asia/Shanghai",
                default_currency="CNY",
            )
            for name, slug in [("Jade Tea House", "jade-tea"), ("Lucky Noodle Bar", "lucky-noodle")]
        ]
        for merchant in merchants:
            for role in (Role.ADMIN, Role.REFUND_AGENT, Role.INTEGRATION):
                _k, out.keys[f"{merchant.slug} {role.value}"] = await tenants.create_api_key(
                    uow,
                    tenant_id=merchant.id,
                    name=f"demo {role.value.lower()}",
                    role=role,
                    expires_at=None,
                )
    channels = list(PaymentChannel)
    for merchant in merchants:
        async with db.unit_of_work(operator) as uow:
            for n in range(transactions_per_merchant):
                cents = rng.randint(500, 50_000)
                await transactions.record(
                    uow,
                    transactions.RecordTransaction(
                        merchant_id=merchant.id,
                        merchant_order_no=f"{merchant.slug.upper()}-{n + 1:05d}",
                        channel=rng.choice(channels[:4]),
                        provider_reference=f"4200{rng.randrange(10**12):012d}",
                        amount=Decimal(cents) / 100,
                        currency="CNY",
                        status=TransactionStatus.SUCCEEDED if n % 10 else TransactionStatus.FAILED,
                        paid_at=utcnow() - timedelta(hours=n * 3 + rng.randint(0, 2)),
                        terminal_id=f"T{rng.randint(1, 4):03d}",
                        store_id="S001",
                        payer_account=f"wx_{rng.randrange(10**10):010d}",
                    ),
                )
    return out
