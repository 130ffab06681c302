""""My refunds": a one-time code to the contact, then everything filed with it."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from qrefund.platform.config import Settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import Forbidden
from qrefund.platform.mycases import service as mycases
from qrefund.platform.otp import Contact, OneTimeCodes
from qrefund.platform.refunds import queries as refunds
from qrefund.platform.refunds.repository import CaseFilter
from qrefund.portal.my import SESSION_COOKIE
from qrefund.tenants.auth import contact_scope
from tests.complaints.api import opened
from tests.portal.helpers import EN, csrf_of, forget_csrf_cookie, page, submit
from tests.refunds.helpers import record_txn, scope_of
from tests.refunds.helpers import submit as submit_case
from tests.support.world import World

PHONE = "+86 138 0013 8000"
NOTIFIER_LOG = "qrefund.platform.notifications.notifier"


def sent_codes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The codes the logging SMS and e-mail adapters wrote (development delivery)."""
    return [m.group(1) for r in caplog.records if r.name == NOTIFIER_LOG
            for m in [re.search(r"\b([0-9]{6})\b", r.getMessage())] if m]


async def ask_code(client: httpx.AsyncClient, contact: str, **headers: str) -> httpx.Response:
    start = await page(client, "/my", **headers)
    return await submit(client, "/my", {"contact": contact}, csrf=csrf_of(start), **headers)


async def sign_in(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, contact: str,
                  **headers: str) -> httpx.Response:
    asked = await ask_code(client, contact, **headers)
    assert asked.status_code == 200, asked.text
    code = sent_codes(caplog)[-1]
    form = {"contact": re.search(r'name="contact" value="([^"]+)"', asked.text).group(1),
            "code": code}
    verified = await submit(client, "/my/code", form, csrf=csrf_of(asked), **headers)
    assert verified.status_code == 303 and verified.headers["location"] == "/my"
    return await page(client, "/my", **headers)


@pytest.fixture(autouse=True)
def _log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=NOTIFIER_LOG)


async def test_a_contact_sees_its_cases_and_complaints_across_merchants_only(
    client: httpx.AsyncClient, db: Database, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mine = await submit_case(db, world, await record_txn(db, world, "a"), "12.30",
                             contact_phone=PHONE)
    ticket = await opened(client, world.key("c", "SUPPORT"),
                          txn=await record_txn(db, world, "c", currency="JPY"),
                          contactPhone="13800138000")
    other = await submit_case(db, world, await record_txn(db, world, "b"), "55.00",
                              who="b", contact_phone="+86 139 0000 0000")
    listing = await sign_in(client, caplog, "138-0013-8000")
    text = listing.text
    assert listing.status_code == 200
    assert mine.case_number in text and ticket["ticketNumber"] in text
    assert "Merchant A" in text and "Merchant C" in text
    assert other.requested_minor == 5500
    assert "55.00" not in text and "Merchant B" not in text and text.count("退款申请 RF") == 1
    assert "已提交" in text and "¥12.30" in text
    assert "138****8000" in text and "0013" not in text  # the contact shown masked
    links = re.findall(r'href="/r/([^"]+)"', text)
    assert len(links) == 2
    for token in links:  # each opens its receipt page
        assert (await page(client, f"/r/{token}")).status_code == 200
    english = await page(client, "/my", **EN)
    assert "Submitted" in english.text and "Sign out" in english.text


async def test_the_answer_never_tells_whether_a_contact_has_filed_anything(
    client: httpx.AsyncClient, db: Database, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await submit_case(db, world, await record_txn(db, world), contact_phone="13800138000")
    known = await ask_code(client, "13800138000")
    unknown = await ask_code(client, "13900139000")
    assert known.status_code == unknown.status_code == 200

    def same(r: httpx.Response, number: str) -> str:
        return (r.text.replace(number, "N").replace(number[:3] + "****" + number[-4:], "M")
                .replace(csrf_of(r), "T"))

    assert same(known, "13800138000") == same(unknown, "13900139000")
    assert len(sent_codes(caplog)) == 2  # both were sent a code
    empty = await sign_in(client, caplog, "13900139000")
    assert "此联系方式下没有任何退款申请或投诉" in empty.text


async def test_codes_are_single_use_and_wrong_guesses_are_capped(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    asked = await ask_code(client, "li.wei@example.com")
    code = sent_codes(caplog)[-1]
    csrf = csrf_of(asked)
    form = {"contact": "li.wei@example.com", "code": code}
    first = await submit(client, "/my/code", form, csrf=csrf)
    assert first.status_code == 303
    client.cookies.delete(SESSION_COOKIE, path="/my")
    again = await submit(client, "/my/code", form, csrf=csrf)
    assert again.status_code == 400 and "验证码错误或已过期" in again.text
    assert SESSION_COOKIE not in again.cookies

    await ask_code(client, "li.wei@example.com")
    code = sent_codes(caplog)[-1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        miss = await submit(client, "/my/code", {**form, "code": wrong}, csrf=csrf)
        assert miss.status_code == 400
    dropped = await submit(client, "/my/code", {**form, "code": code}, csrf=csrf)
    assert dropped.status_code == 400  # five misses dropped the code, right or not
    for junk in ("", "12345", "1234567", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert (await submit(client, "/my/code", {**form, "code": junk},
                             csrf=csrf)).status_code == 400


async def test_a_new_code_replaces_the_old_one(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    asked = await ask_code(client, "13800138000")
    old = sent_codes(caplog)[-1]
    await ask_code(client, "13800138000")
    new = sent_codes(caplog)[-1]
    form = {"contact": "13800138000"}
    if old != new:
        assert (await submit(client, "/my/code", {**form, "code": old},
                             csrf=csrf_of(asked))).status_code == 400
    assert (await submit(client, "/my/code", {**form, "code": new},
                         csrf=csrf_of(asked))).status_code == 303


async def test_forms_without_a_valid_csrf_token_do_nothing(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    start = await page(client, "/my")
    token = csrf_of(start)
    for csrf in (None, "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1")):
        refused = await submit(client, "/my", {"contact": "13800138000"}, csrf=csrf)
        assert refused.status_code == 403 and "表单已过期" in refused.text
    forget_csrf_cookie(client)  # a token without its cookie (another browser's page)
    refused = await submit(client, "/my", {"contact": "13800138000"}, csrf=token)
    assert refused.status_code == 403
    as_json = await client.post("/my", json={"contact": "13800138000", "csrf": token})
    assert as_json.status_code == 403
    assert sent_codes(caplog) == []


async def test_bad_contacts_are_refused_and_sessions_cannot_be_forged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    start = await page(client, "/my")
    for bad in ("", "call me", "12", "a@b", "x" * 300 + "@example.com", "<script>@x.cn"):
        refused = await submit(client, "/my", {"contact": bad}, csrf=csrf_of(start))
        assert refused.status_code == 400
        assert "<script>@" not in refused.text  # escaped when echoed
    assert sent_codes(caplog) == []
    client.cookies.set(SESSION_COOKIE, "v1.test.AAAA", path="/my")
    assert "发送验证码" in (await page(client, "/my")).text  # the form, not a list


async def test_sign_out_ends_the_session(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    listing = await sign_in(client, caplog, "li.wei@example.com", **EN)
    assert "Nothing has been filed" in listing.text
    out = await submit(client, "/my/logout", {}, csrf=csrf_of(listing), **EN)
    assert out.status_code == 303
    assert "Send code" in (await page(client, "/my", **EN)).text


async def test_codes_are_budgeted_per_contact_and_per_address(
    tight_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    codes = [(await ask_code(tight_client, "13800138000")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # 2 per contact per hour
    other = await ask_code(tight_client, "13900139000")
    assert other.status_code == 200  # the address's 4th code (a refused one counts)
    assert (await ask_code(tight_client, "13700137000")).status_code == 429  # address spent
    assert len(sent_codes(caplog)) == 3


async def test_a_contact_scope_reads_nothing_but_its_filings(
    settings: Settings, db: Database, world: World
) -> None:
    await submit_case(db, world, await record_txn(db, world), contact_email="a@example.com")
    codes = OneTimeCodes(settings, key_ring())
    scope = contact_scope(codes, codes.seal_session(Contact("email", "a@example.com")))
    assert scope is not None and scope.contact is not None
    async with db.unit_of_work(scope, readonly=True) as uow:
        assert len(await mycases.filings(uow)) == 1
        with pytest.raises(Forbidden):
            await refunds.list_page(uow, CaseFilter(), first=10)
    staff = await scope_of(db, world, "a")
    async with db.unit_of_work(staff, readonly=True) as uow:
        with pytest.raises(Forbidden):
            await mycases.filings(uow)
    assert contact_scope(codes, codes.seal_session(Contact("email", "a@example.com"),
                                              now=0)) is None  # expired
