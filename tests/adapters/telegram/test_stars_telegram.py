"""Paid membership in Telegram Stars, through both libraries against the local Bot API
server: the invoice link's parameters, pre-checkout accepted and refused in the payer's
language, the first payment, a renewal and a duplicate delivery, cancel and re-enable
(editUserStarSubscription), a refund (refundStarPayment), and a plan's gated chat
opened to its member by a join request, then closed by the lapse after the grace."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.community.tables import Gate, Seat
from domain.members.tables import Identity, Member
from domain.membership import subscriptions
from domain.membership.subscriptions import Order
from domain.membership.tables import Payment
from domain.staff import roles
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

ALICE, BOSS = 1001, 2002
MONTH = 30 * 24 * 3600


def buttons(call) -> list[dict]:
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


async def member_of(db, user_id: int):
    async with db.uow() as uow:
        return (await uow.session.execute(select(
            Member.id, Member.points_balance, Member.tier).join(
            Identity, Identity.member_id == Member.id).where(
            Identity.platform == "telegram", Identity.external_id == str(user_id)))).one()


async def answered(api, update) -> tuple[bool, str | None]:
    query_id = update["pre_checkout_query"]["id"]
    await api.wait_for(lambda _: query_id in api.checkout_answers,
                       method="answerPreCheckoutQuery")
    return api.checkout_answers[query_id]


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def joined(api, user_id: int) -> int:
    api.message(user_id, "/start")
    await api.wait_for(1, method="sendMessage", chat_id=user_id)
    return len(api.sent("sendMessage", chat_id=user_id))


async def test_subscribing_gives_a_stars_subscription_link(api, bot, db):
    await joined(api, ALICE)
    api.message(ALICE, "/premium")
    shown = (await api.wait_for(2, method="sendMessage", chat_id=ALICE))[-1]
    assert "Tea House Plus — 100 ⭐ every 30 days" in shown.text
    [subscribe] = buttons(shown)
    assert subscribe["callback_data"] == "premium:buy:plus"
    api.callback(ALICE, "premium:buy:plus", shown.result["message_id"])
    invoice = (await api.wait_for(3, method="sendMessage", chat_id=ALICE))[-1]
    [pay] = buttons(invoice)
    assert pay["text"] == "Pay 100 ⭐" and pay["url"] in api.invoices
    made = api.invoices[pay["url"]]
    mid = (await member_of(db, ALICE)).id
    assert made["currency"] == "XTR" and made["prices"] == [
        {"label": "Tea House Plus", "amount": 100}]
    assert made["subscription_period"] == 2_592_000
    assert made["payload"] == f"plan:plus:{mid}:100" and not made.get("provider_token")
    assert made["title"] == "Tea House Plus"


async def test_pre_checkout_is_accepted_or_refused_in_the_payers_language(api, bot, db):
    await joined(api, ALICE)
    mid = (await member_of(db, ALICE)).id
    good = Order("plus", mid, 100).payload
    assert await answered(api, api.pre_checkout(ALICE, good, 100)) == (True, None)
    ok, said = await answered(api, api.pre_checkout(ALICE, Order("plus", mid, 80).payload, 80))
    assert not ok and said.startswith("The price of this plan has changed.")
    ok, said = await answered(api, api.pre_checkout(ALICE, "not ours", 100))
    assert not ok and said.startswith("This payment is not one we can take.")
    # Someone else paying Alice's invoice, in their own language.
    ok, said = await answered(api, api.pre_checkout(3003, good, 100, language_code="zh-hans"))
    assert not ok and said == "这张账单是为其他会员开具的，请自行打开 /premium。"


async def test_payments_renewal_and_a_duplicate_delivery(api, bot, db):
    sent = await joined(api, ALICE)
    mid = (await member_of(db, ALICE)).id
    payload, ends = Order("plus", mid, 100).payload, int(time.time()) + MONTH
    api.paid(ALICE, payload, 100, "ch-1", expires=ends)
    thanks = (await api.wait_for(sent + 1, method="sendMessage", chat_id=ALICE))[-1]
    assert "Thank you! Tea House Plus is yours until" in thanks.text
    assert "This month's gift: 100 points." in thanks.text
    api.paid(ALICE, payload, 100, "ch-1", expires=ends)  # the same payment, delivered again
    again = (await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE))[-1]
    assert "This payment is already counted" in again.text
    alice = await member_of(db, ALICE)
    assert (alice.points_balance, alice.tier) == (100, "silver")
    api.paid(ALICE, payload, 100, "ch-2", expires=ends + MONTH, first=False)
    await api.wait_for(sent + 3, method="sendMessage", chat_id=ALICE)
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Payment)) == 2
        sub = await subscriptions.active(uow, mid)
        assert sub.charge_id == "ch-1"
        assert sub.expires_at == datetime.fromtimestamp(ends + MONTH, UTC)
    assert (await member_of(db, ALICE)).points_balance == 200


async def test_cancel_and_re_enable_renewal_on_telegram(api, bot, db):
    sent = await joined(api, ALICE)
    mid = (await member_of(db, ALICE)).id
    api.paid(ALICE, Order("plus", mid, 100).payload, 100, "ch-1")
    await api.wait_for(sent + 1, method="sendMessage", chat_id=ALICE)
    api.message(ALICE, "/premium")
    shown = (await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE))[-1]
    assert [b["callback_data"] for b in buttons(shown)] == ["premium:cancel"]
    api.callback(ALICE, "premium:cancel", shown.result["message_id"])
    await api.wait_for(lambda _: (ALICE, "ch-1") in api.star_renewals,
                       method="editUserStarSubscription")
    assert api.star_renewals[(ALICE, "ch-1")] is True
    (edit,) = await api.wait_for(1, method="editMessageText", chat_id=ALICE)
    assert "Renewal is cancelled." in edit.text
    api.callback(ALICE, "premium:renew", shown.result["message_id"])
    await api.wait_for(2, method="editUserStarSubscription")
    assert api.star_renewals[(ALICE, "ch-1")] is False
    edits = await api.wait_for(2, method="editMessageText", chat_id=ALICE)  # once committed
    assert "Renewal is on" in edits[-1].text
    async with db.uow() as uow:
        assert (await subscriptions.active(uow, mid)).renews


async def test_an_owner_refunds_a_payment_and_the_plan_ends(api, bot, db, programme):
    await joined(api, BOSS)
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"telegram:{BOSS}", datetime.now(UTC))
        await uow.commit()
    sent = await joined(api, ALICE)
    mid = (await member_of(db, ALICE)).id
    api.paid(ALICE, Order("plus", mid, 100).payload, 100, "ch-7")
    await api.wait_for(sent + 1, method="sendMessage", chat_id=ALICE)
    api.message(BOSS, "/refund ch-7")
    asked = (await api.wait_for(2, method="sendMessage", chat_id=BOSS))[-1]
    assert "Give back 100 ⭐ of payment ch-7" in asked.text
    yes = next(b for b in buttons(asked) if b["callback_data"] == "refund:yes")
    api.callback(BOSS, yes["callback_data"], asked.result["message_id"])
    (done,) = await api.wait_for(1, method="editMessageText", chat_id=BOSS)
    assert "Refunded 100 ⭐ of payment ch-7" in done.text
    assert api.refunded == {"ch-7"}
    assert api.star_renewals[(ALICE, "ch-7")] is True  # and no renewal after it
    async with db.uow() as uow:
        assert await subscriptions.active(uow, mid) is None
    assert (await member_of(db, ALICE)).tier == "member"


@pytest.fixture(params=LIBRARIES)
async def club_bot(request, api, db, programme):
    plan = programme.membership.plans[0].model_copy(update={"chats": ("-100777",)})
    club = programme.model_copy(update={"membership": programme.membership.model_copy(
        update={"plans": (plan,)})})
    app, _, running = await started(api, db, club, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def test_a_plans_chat_lets_its_member_in_and_the_lapse_takes_them_out(
        api, club_bot, db):
    now = datetime.now(UTC)
    async with db.uow() as uow:
        uow.session.add(Gate(platform="telegram", chat_id="-100777", kind="supergroup",
                             title="Gold room", min_tier="gold", grace_s=0,
                             created_by="test", created_at=now, updated_at=now))
        await uow.commit()
    api.group(-100777, "Gold room", kind="supergroup")
    sent = await joined(api, ALICE)
    mid = (await member_of(db, ALICE)).id
    # Before paying, Alice (a plain member) is declined by the gold room.
    api.chat_join_request(ALICE, -100777)
    await api.wait_for(1, method="declineChatJoinRequest")
    # A period that ended four days ago (past the 3 days' grace) and was never renewed.
    api.paid(ALICE, Order("plus", mid, 100).payload, 100, "ch-1",
             expires=int(now.timestamp()) - 4 * 24 * 3600)
    await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE)
    api.chat_join_request(ALICE, -100777)
    await api.wait_for(1, method="approveChatJoinRequest")
    assert ALICE in api.members[-100777]
    assert await subscriptions.lapse_due(db, club_bot.programme, datetime.now(UTC)) == {
        "lapsed": 1}
    await api.wait_for(1, method="unbanChatMember")  # taken out, free to come back
    assert [c.method for c in api.calls if c.method in ("banChatMember", "unbanChatMember")
            and c.params.get("user_id") == ALICE] == ["banChatMember", "unbanChatMember"]
    assert ALICE not in api.members[-100777]
    async with db.uow() as uow:
        gate = await uow.session.scalar(select(Gate).where(Gate.chat_id == "-100777"))
        seat = await uow.session.scalar(select(Seat).where(Seat.gate_id == gate.id))
        assert seat.status != "in"  # removed, or left once the chat_member update came
