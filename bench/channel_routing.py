"""Payout routing: a merchant's own account vs its agency's service-provider account.

    .venv/bin/python -m bench.channel_routing [--rounds 2000]

Re-creates the ``qrefund_bench_routing`` database (next to
``QREFUND_BENCH_DATABASE_URL``), migrates it, and sets up through the services an
agency with its own WeChat Pay account and three merchants: one with an account of its
own, one linked to the agency's account, one with neither. Then, as a payout job does
(a unit of work in the merchant's job scope, as ``qrefund_app`` so row-level security
applies), it routes a WeChat Pay refund ``--rounds`` times per merchant and prints the
mean time per routing (unit of work included) and each one's ratio to the merchant
with its own account. The fallback costs the merchant read and the two parent-read
functions of migration 0017. Figures go to stdout and
``bench/results/channel_routing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import make_url

from bench.common import DATABASE_URL, ENCRYPTION_KEY, RESULTS, recreate_database
from qrefund.jobs import runtime
from qrefund.platform.channels import links
from qrefund.platform.channels import service as channels
from qrefund.platform.channels.models import AccountChannel
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.roles import Role
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap

ROUTING_DB = make_url(DATABASE_URL).set(database="qrefund_bench_routing").render_as_string(
    hide_password=False)



def _credentials(mchid: str) -> channels.WeChatPayFields:
    def pem(key: rsa.RSAPrivateKey) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return channels.WeChatPayFields(
        mchid=mchid, merchant_serial="5157F09EFDC096DE15EBE81A47057A72",
        merchant_private_key=pem(rsa.generate_private_key(public_exponent=65537,
                                                          key_size=2048)),
        api_v3_key="A" * 32, platform_key_id="PUB_KEY_ID_0100000000000001",
        platform_public_key=platform.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode())


async def _seed(db: Database) -> dict[str, uuid.UUID]:
    """The agency's account, and merchants: own account, linked, neither."""
    _operator, key = await bootstrap(db)
    async with db.unit_of_work(await authenticate(db, key)) as uow:
        agency = await tenants.create_agency(uow, name="Bench Agency", slug="bench-agency")
        merchants = {name: (await tenants.create_merchant(
            uow, name=name, slug=f"bench-{name}", agency_id=agency.id,
            timezone="Asia/Shanghai", default_currency="CNY")).id
            for name in ("own", "linked", "neither")}
        await channels.create_account(uow, channels.CreateAccount(
            AccountChannel.WECHAT_PAY, merchants["own"], _credentials("1900000109")))
        _k, agency_key = await tenants.create_api_key(uow, tenant_id=agency.id, name="bench",
                                                      role=Role.ADMIN, expires_at=None)
    async with db.unit_of_work(await authenticate(db, agency_key)) as uow:
        account = await channels.create_account(uow, channels.CreateAccount(
            AccountChannel.WECHAT_PAY, None, _credentials("1900000200")))
        await links.link_merchant(uow, links.LinkMerchant(
            account.tenant_id, account.id, merchants["linked"], sub_mchid="1900000301"))
    return merchants


async def _mean_ms(db: Database, merchant: uuid.UUID, settings: Settings, rounds: int,
                   check: Callable[[object], bool]) -> float:
    async def once() -> None:
        async with db.unit_of_work(runtime.job_scope(merchant, "bench"), readonly=True) as uow:
            found = await channels.route(uow, merchant, "WECHAT_PAY", "ORIGINAL_ROUTE",
                                         settings)
        assert check(found), found

    for _ in range(min(50, rounds)):
        await once()
    start = time.perf_counter()
    for _ in range(rounds):
        await once()
    return (time.perf_counter() - start) * 1000 / rounds


async def main_async(rounds: int) -> dict[str, object]:
    recreate_database(ROUTING_DB)
    settings = Settings(database_url=ROUTING_DB, encryption_key=ENCRYPTION_KEY,
                        _env_file=None)  # type: ignore[call-arg]
    from qrefund.migrations.runner import migrate

    migrate(settings)
    db = Database(settings)
    try:
        merchants = await _seed(db)
        checks: dict[str, Callable[[object], bool]] = {
            "own": lambda r: isinstance(r, channels.Route) and r.link is None,
            "linked": lambda r: isinstance(r, channels.Route) and r.link is not None,
            "neither": lambda r: r is None,
        }
        figures = {name: await _mean_ms(db, merchants[name], settings, rounds, checks[name])
                   for name in ("own", "linked", "neither")}
    finally:
        await db.dispose()
    base = figures["own"]
    return {"rounds": rounds, "ms_per_routing": figures,
            "ratio_to_own": {k: round(v / base, 2) for k, v in figures.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(main_async(args.rounds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "channel_routing.json").write_text(json.dumps(result, indent=2))
    for name, ms in result["ms_per_routing"].items():  # type: ignore[attr-defined]
        ratio = result["ratio_to_own"][name]  # type: ignore[index]
        print(f"{name:8s} {ms:7.3f} ms per routing  x{ratio} of own account")


if __name__ == "__main__":
    main()
