"""/premium in both languages: the plans and what each gives; an invoice where the
platform takes stars, where to pay where it does not; a payment counted once; renewal
cancelled and re-enabled through the platform; pre-checkout refusals in the member's
language; and staff's /subscribers and /refund (confirmed, audited)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.members.tables import Member
from domain.membership import subscriptions
from domain.membership.subscriptions import Order
from domain.notices.tables import Notice
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.engine.payments import PaymentError
from handlers.engine.types import Inbound, Payment
from handlers.membership.premium import pre_checkout
from handlers.notices.notices import render_notice
from handlers.routers import build_engine
from tests.support.transcript import Clock, member

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@dataclass
class FakePayments:
    """The payments port as a platform would give it, noting each call."""

    platform: str = "console"
    calls: list[tuple] = field(default_factory=list)
    refuse: str | None = None

    async def refund(self, account: str, charge_id: str) -> None:
        self.calls.append(("refund", account, charge_id))
        if self.refuse:
            raise PaymentError(self.refuse)

    async def set_renewal(self, account: str, charge_id: str, renews: bool) -> None:
        self.calls.append(("renewal", account, charge_id, renews))
        if self.refuse:
            raise PaymentError(self.refuse)


class Payer:
    """A member on a platform that takes invoices (as Telegram does)."""

    def __init__(self, db, programme, clock, port, user="payer", locale="en") -> None:
        self.engine = build_engine(db, programme, clock=clock, payments=port)
        self.user, self.locale, self.n = user, locale, 0

    async def send(self, text: str = "", action: str | None = None,
                   payment: Payment | None = None):
        self.n += 1
        answer = await self.engine.handle(Inbound(
            platform="console", user_id=self.user, chat_id=self.user, text=text,
            action=action, locale=self.locale, invoices=True, buttons=True,
            key=f"{self.user}:{self.n}", payment=payment))
        return answer.rendered()

    async def text(self, text: str = "", action: str | None = None,
                   payment: Payment | None = None) -> str:
        return "\n\n".join(r.text for r in await self.send(text, action, payment))


def payment(member_id: int, charge_id: str = "ch-1", until=NOW + timedelta(days=30),
            first: bool = True) -> Payment:
    return Payment(charge_id=charge_id, payload=Order("plus", member_id, 100).payload,
                   amount=100, currency="XTR", expires_at=until, recurring=True, first=first)


async def owner_and_payer(db, programme, clock, port, charge_id: str) -> tuple[Payer, Payer]:
    """The owner (member 1), and a member (2) who paid `charge_id` for a plan."""
    boss = Payer(db, programme, clock, port, user="boss")
    await boss.send("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:boss", NOW)
        await uow.commit()
    payer = Payer(db, programme, clock, port)
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(2, charge_id))
    return boss, payer


async def balance(db, member_id: int) -> int:
    async with db.uow() as uow:
        return (await uow.session.get(Member, member_id)).points_balance


@pytest.mark.parametrize(("locale", "words"), [
    ("en", ["⭐ Paid membership", "Tea House Plus — 100 ⭐ every 30 days",
            "• at least Silver while it lasts", "• Free tea refill", "• 1.2× points on purchases",
            "• 100 points every month", "You are not on a paid plan.",
            "subscribe with /premium from the Telegram account linked"]),
    ("zh_Hans", ["⭐ 付费会员", "茶馆 Plus — 每 30 天 100 ⭐", "• 有效期内至少享白银会员待遇",
                 "• 免费续杯", "• 消费积分 1.2 倍", "• 每月赠送 100 积分", "您目前不是付费会员。",
                 "请用已关联会员的 Telegram 账号发送 /premium 开通"])])
async def test_premium_shows_the_plans_and_where_to_pay_without_invoices(
        db, programme, clock, locale, words):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    said = await alice.say("/premium")
    for line in words:
        assert line in said
    # No invoice can be paid here: no subscribe button, and pressing one says where to pay.
    assert "premium:buy" not in said
    assert words[-1] in await alice.press("premium:buy:plus")


async def test_a_payment_link_is_given_where_the_programme_has_one(db, programme, clock):
    linked = programme.model_copy(update={"membership": programme.membership.model_copy(
        update={"payment_url": "https://example.com/plus"})})
    alice = member(db, linked, clock)
    await alice.say("/start")
    assert "Subscribe here: https://example.com/plus" in await alice.say("/premium")


@pytest.mark.parametrize(("locale", "title", "label"), [
    ("en", "Tea House Plus", "Pay 100 ⭐"), ("zh_Hans", "茶馆 Plus", "支付 100 ⭐")])
async def test_subscribing_answers_with_an_invoice(db, programme, clock, locale, title, label):
    payer = Payer(db, programme, clock, FakePayments(), locale=locale)
    await payer.send("/start")
    [shown] = await payer.send("/premium")
    assert ("premium:buy:plus" in [a for row in shown.buttons for _, a in row])
    [invoice] = await payer.send(action="premium:buy:plus")
    assert invoice.invoice is not None
    assert (invoice.invoice.title, invoice.invoice.label) == (title, label)
    assert (invoice.invoice.price, invoice.invoice.currency, invoice.invoice.period_s) == (
        100, "XTR", 2_592_000)
    assert invoice.invoice.payload == "plan:plus:1:100"


async def test_a_payment_is_counted_once_and_a_forged_one_changes_nothing(
        db, programme, clock):
    payer = Payer(db, programme, clock, FakePayments())
    await payer.send("/start")
    forged = await payer.text(action="premium:paid")
    assert "expired" in forged.lower() or "button" in forged.lower()
    assert await balance(db, 1) == 0
    said = await payer.text(action="premium:paid", payment=payment(1))
    assert "Thank you! Tea House Plus is yours until Jul 1, 2026." in said
    assert "This month's gift: 100 points." in said
    again = await payer.text(action="premium:paid", payment=payment(1))
    assert "already counted" in again
    assert await balance(db, 1) == 100
    status = await payer.text("/premium")
    assert "Your plan: Tea House Plus, paid until Jul 1, 2026; it renews" in status
    # On a plan already: a second invoice is refused.
    assert "You are on a paid plan already" in await payer.text(action="premium:buy:plus")


async def test_cancel_and_re_enable_renewal_ask_the_platform(db, programme, clock):
    port = FakePayments()
    payer = Payer(db, programme, clock, port)
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(1))
    [shown] = await payer.send("/premium")
    assert [a for row in shown.buttons for _, a in row] == ["premium:cancel"]
    said = await payer.text(action="premium:cancel")
    assert "Renewal is cancelled. Your plan stays until Jul 1, 2026" in said
    assert port.calls == [("renewal", "payer", "ch-1", False)]
    [shown] = await payer.send("/premium")
    assert "Renewal is cancelled: it ends then." in shown.text
    assert [a for row in shown.buttons for _, a in row] == ["premium:renew"]
    assert "Renewal is on" in await payer.text(action="premium:renew")
    assert port.calls[-1] == ("renewal", "payer", "ch-1", True)


async def test_a_refused_renewal_change_changes_nothing(db, programme, clock):
    port = FakePayments(refuse="SUBSCRIPTION_NOT_FOUND")
    payer = Payer(db, programme, clock, port)
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(1))
    said = await payer.text(action="premium:cancel")
    assert "could not be changed just now (SUBSCRIPTION_NOT_FOUND)" in said
    async with db.uow() as uow:
        assert (await subscriptions.active(uow, 1)).renews


@pytest.mark.parametrize(("locale", "gone", "dearer"), [
    ("en", "This plan is no longer offered.", "The price of this plan has changed."),
    ("zh_Hans", "该方案已不再提供。", "该方案价格已变更")])
async def test_pre_checkout_refuses_in_the_members_language(db, programme, clock, locale,
                                                            gone, dearer):
    payer = Payer(db, programme, clock, FakePayments(), locale=locale)
    await payer.send("/start")
    good = Order("plus", 1, 100).payload
    assert await pre_checkout(db, programme, "console", "payer", good, 100, "XTR",
                              None) is None
    said = await pre_checkout(db, programme, "console", "payer", Order("old", 1, 100).payload,
                              100, "XTR", None)
    assert said is not None and said.startswith(gone)
    said = await pre_checkout(db, programme, "console", "payer", Order("plus", 1, 50).payload,
                              50, "XTR", None)
    assert said is not None and said.startswith(dearer)
    # Someone with no membership at all, by their platform's language.
    stranger = await pre_checkout(db, programme, "console", "nobody", good, 100, "XTR", "zh-CN")
    assert stranger == "这张账单是为其他会员开具的，请自行打开 /premium。"


async def test_subscribers_and_a_confirmed_refund_for_admins_only(db, programme, clock):
    port = FakePayments()
    boss, payer = await owner_and_payer(db, programme, clock, port, "ch-9")
    listed = await boss.text("/subscribers")
    assert "⭐ Paid members: 1" in listed and "Member 00000002: Tea House Plus" in listed
    assert "is for" in await payer.text("/refund ch-9")  # a member may not
    assert "No payment has the charge id nope." in await boss.text("/refund nope")
    for bad in ("\x1b[31mRED\x07", "ch 9", "x" * 129, "支付"):  # never echoed back
        assert await boss.text(f"/refund {bad}") == (
            "Write /refund CHARGE_ID, the payment's charge id as the payment shows it.")
    assert "Paid membership (Stars, after refunds): 100 ⭐" in await boss.text("/stats")
    asked = await boss.text("/refund ch-9")
    assert "Give back 100 ⭐ of payment ch-9 to member 00000002?" in asked
    assert "Nothing was refunded." in await boss.text(action="refund:no")
    assert port.calls == []
    await boss.text("/refund ch-9")
    done = await boss.text(action="refund:yes")
    assert "Refunded 100 ⭐ of payment ch-9; member 00000002's plan has ended." in done
    assert port.calls == [("refund", "payer", "ch-9"), ("renewal", "payer", "ch-9", False)]
    async with db.uow() as uow:
        assert await subscriptions.active(uow, 2) is None
        logged = await uow.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "membership.refund"))
        assert logged is not None and logged.target == "ch-9"
        assert (await uow.session.get(Member, 2)).tier == "member"
    async with db.uow() as uow:
        told = (await uow.session.execute(select(Notice.key, Notice.params).where(
            Notice.member_id == 2, Notice.key == "membership.refunded"))).one()
    for locale, words in (("en", "Your payment of 100 ⭐ was refunded, and your plan Tea "
                                 "House Plus has ended."),
                          ("zh_Hans", "您的 100 ⭐ 付款已退还，付费会员 茶馆 Plus 随之结束。")):
        assert render_notice(told.key, told.params, locale, programme).text.startswith(words)
    assert "refunded already" in await boss.text("/refund ch-9")
    assert "Nobody is on a paid plan." in await boss.text("/subscribers")
    # The refund leaves the period's Stars revenue.
    assert "Paid membership (Stars, after refunds): 0 ⭐ (was 0)" in await boss.text("/stats")


async def test_asking_to_be_erased_cancels_a_renewing_plan(db, programme, clock):
    port = FakePayments()
    payer = Payer(db, programme, clock, port)
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(1))
    await payer.send("/deleteme")
    await payer.send(action="deleteme:go")
    said = await payer.text(action="deleteme:yes")
    assert "Your account will be erased" in said
    assert "The renewal of your paid plan is cancelled" in said
    assert port.calls == [("renewal", "payer", "ch-1", False)]
    async with db.uow() as uow:
        assert not (await subscriptions.active(uow, 1)).renews


async def test_erasure_asked_elsewhere_says_where_to_cancel(db, programme, clock):
    payer = Payer(db, programme, clock, FakePayments(platform="telegram"))
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(1))
    # The same member where no payments port is given (the plain console): the plan's
    # renewal cannot be cancelled from here, so they are told where.
    alice = member(db, programme, clock, user="payer")
    await alice.say("/deleteme")
    await alice.press("deleteme:go")
    said = await alice.press("deleteme:yes")
    assert "please cancel its renewal in /premium on Telegram" in said


async def test_the_owner_erasing_a_member_cancels_their_renewal(db, programme, clock):
    port = FakePayments()
    boss, _ = await owner_and_payer(db, programme, clock, port, "ch-5")
    assert "Erase member #00000002 now" in await boss.text("/member erase 2")
    assert port.calls == []
    said = await boss.text(action="memberdata:erase")
    assert "Member #00000002 is erased" in said and "still renews" not in said
    assert port.calls == [("renewal", "payer", "ch-5", False)]
    async with db.uow() as uow:
        assert await subscriptions.active(uow, 2) is None


async def test_the_owner_is_told_to_cancel_a_renewal_paid_elsewhere(db, programme, clock):
    boss = member(db, programme, clock, user="boss")  # the console: no payments port
    await boss.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:boss", NOW)
        await uow.commit()
    payer = Payer(db, programme, clock, FakePayments())
    await payer.send("/start")
    await payer.send(action="premium:paid", payment=payment(2, "ch-5"))
    await boss.say("/member erase 2")
    said = await boss.press("memberdata:erase")
    assert "Member 00000002 had a paid plan that still renews on Telegram" in said


@dataclass
class SlowPayments(FakePayments):
    """A platform that answers only when told to."""

    answer: asyncio.Event = field(default_factory=asyncio.Event)

    async def set_renewal(self, account: str, charge_id: str, renews: bool) -> None:
        await self.answer.wait()
        await super().set_renewal(account, charge_id, renews)


@pytest.mark.parametrize("how", ["button", "deleteme"])
async def test_other_members_are_answered_while_the_platform_is_asked(
        db, programme, clock, how):
    # On SQLite the batch holds the one write lock: a member's step waiting on the
    # platform inside it would hold every other member's message that long.
    port = SlowPayments()
    payer = Payer(db, programme, clock, port)
    other = Payer(db, programme, clock, FakePayments(), user="other")
    await payer.send("/start")
    await other.send("/start")
    await payer.send(action="premium:paid", payment=payment(1))
    if how == "button":
        asking = asyncio.create_task(payer.text(action="premium:cancel"))
    else:
        await payer.send("/deleteme")
        await payer.send(action="deleteme:go")
        asking = asyncio.create_task(payer.text(action="deleteme:yes"))
    await asyncio.sleep(0.05)
    assert not asking.done()  # waiting for the platform
    points = await asyncio.wait_for(other.text("/points"), 5)
    assert "points" in points.lower() and not asking.done()
    port.answer.set()
    said = await asking
    assert port.calls == [("renewal", "payer", "ch-1", False)]
    assert ("Renewal is cancelled" if how == "button" else "renewal") in said
