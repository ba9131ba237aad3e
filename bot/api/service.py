"""The API routes on the shared aiohttp app. Every call is signed (see signing.py);
with no MEMBERBOT_API_KEY the service is not started at all, so the API is off.

Each call is one unit of work: it commits what it did, or nothing. Refusals are JSON
`{"error": {"code", "message"}}` with a 4xx status (the web app's middleware gives the
web server's own refusals the same shape, see bot.web) and change nothing, except that a
wrong coupon code is counted against the till that tried it. Purchases arriving
together share one transaction (domain.storage.group_commit), each in a savepoint of its own,
so a refused one leaves no trace and the others still commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.api import openapi, parsing, signing
from bot.api.parsing import BadRequest
from bot.app import App
from bot.web import MAX_BODY, error
from domain import identifiers
from domain.errors import DomainError, InvalidInput
from domain.insight import takings
from domain.insight.takings import TakingsRefused
from domain.members import till_members
from domain.members.profile import parse_phone
from domain.points import purchases, refunds
from domain.points.purchases import PurchaseRefused
from domain.rewards import coupons
from domain.rewards.coupons import CouponRefused
from domain.staff import audit
from domain.storage.database import again_if_transient
from domain.storage.group_commit import LATER, GroupCommit

log = logging.getLogger(__name__)
APP_KEY: web.AppKey[App] = web.AppKey("memberbot_api_app", App)
Till = tuple[dict[str, str], purchases.Order, datetime]
PURCHASES: web.AppKey[GroupCommit] = web.AppKey("memberbot_api_purchases", GroupCommit)
Handler = Callable[[web.Request, dict[str, Any], datetime], Awaitable[web.Response]]
# A refusal that depends on what is recorded (the order's state) is a conflict, 409.
STATUS = {"unknown_member": 404, "unknown_order": 404, "coupon_unknown": 404,
          "order_conflict": 409, "refund_conflict": 409, "ambiguous_member": 409,
          "already_refunded": 409, "refund_too_large": 409, "coupon_used": 409,
          "coupon_expired": 410, "too_many_attempts": 429}


def signed(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def checked(request: web.Request) -> web.Response:
        app = request.app[APP_KEY]
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error(413, "body_too_large", f"the body is larger than {MAX_BODY} bytes")
        problem = signing.verify(app.settings.api_key or "", request.headers.get(signing.TIMESTAMP),
                                 request.headers.get(signing.SIGNATURE), raw, time.time())
        if problem is not None:
            return error(401, problem, _UNSIGNED[problem])
        try:
            return await handler(request, parsing.body(raw), datetime.now(UTC))
        except BadRequest as bad:
            return error(400, bad.code, bad.message)
    return checked


# What each refusal means to whoever runs the till, with what to do about it.
SAID = {
    "invalid_order_id": "order_id must be 1-64 of the letters A-Z a-z, digits and _ . : / # -, "
                        "beginning with a letter or a digit",
    "wrong_currency": "this programme counts in {expected}; send amounts in {expected}",
    "invalid_amount": "amount must be a whole number of minor units from {min} to {max}",
    "too_many_items": "an order may list at most {max} items",
    "invalid_item": "each item needs a sku, a quantity of at least 1 and an amount in "
                    "minor units",
    "unknown_member": "no member matches: check the number, phone or account",
    "ambiguous_member": "more than one member matches: send the member's number",
    "order_conflict": "this order_id was recorded before with another member, amount or "
                      "items: a new order needs a new order_id",
    "invalid_refund_id": "refund_id must be 1-64 of the letters A-Z a-z, digits and _ . : / "
                         "# -, beginning with a letter or a digit",
    "unknown_order": "no order with this order_id is recorded",
    "refund_conflict": "this refund_id was used before for {amount}: a new refund needs a "
                       "new refund_id",
    "already_refunded": "this order is refunded in full already",
    "refund_too_large": "only {left} of this order is left to refund",
    "coupon_unknown": "no coupon has this code",
    "coupon_used": "this coupon was used at {used_at}",
    "coupon_expired": "this coupon expired at {expired_at}",
    "too_many_attempts": "too many wrong codes: try again in {minutes} minutes",
}


def refusal(refused: DomainError) -> web.Response:
    try:
        said = SAID[refused.code].format(**refused.params)
    except (KeyError, IndexError):  # a code or a parameter not written here yet
        detail = ", ".join(f"{k}: {v}" for k, v in refused.params.items())
        said = refused.code.replace("_", " ") + (f" ({detail})" if detail else "")
    return error(STATUS.get(refused.code, 422), refused.code, said)


async def purchase(request: web.Request, data: dict[str, Any], now: datetime) -> web.Response:
    parsing.required(data, "order_id", "member", "amount", "currency")
    ref, order = parsing.member_ref(data), parsing.order(data)
    if "phone" in ref:  # found by an exact match on the stored form, E.164
        country = request.app[APP_KEY].programme.phone_country_code
        try:
            ref["phone"] = parse_phone(ref["phone"], country)
        except InvalidInput:  # well formed, so no member can have given it: not found
            return error(404, "unknown_member", "no member gave this phone: it is not a "
                         "possible phone number (give it with + and its country code, or "
                         f"without one for a number in +{country})")
    done = await request.app[PURCHASES].submit((ref, order, now))
    if isinstance(done, PurchaseRefused):
        return refusal(done)
    if isinstance(done, Exception):
        raise done  # this call's own failure: a 500 for it alone
    return web.json_response({
        "order_id": done.order_id, "member": str(done.member_id).zfill(8),
        "points": done.points, "rules": done.rules, "balance": done.balance,
        "tier": done.tier, "tier_upgraded": done.upgraded, "duplicate": done.duplicate,
    }, status=200 if done.duplicate else 201)


async def refund(request: web.Request, data: dict[str, Any], now: datetime) -> web.Response:
    app = request.app[APP_KEY]
    parsing.required(data, "order_id")
    order_id = parsing.identifier(data, "order_id", identifiers.ORDER_ID)
    amount = parsing.integer(data, "amount", 1, purchases.MAX_AMOUNT, required=False)
    refund_id = parsing.identifier(data, "refund_id", identifiers.ORDER_ID, required=False)

    async def attempt() -> refunds.Refunded:
        async with app.db.uow() as uow:
            done = await refunds.refund(uow, app.programme, order_id, amount, refund_id, now)
            if not done.duplicate:
                await audit.record(uow, "api", "purchase.refund", order_id,
                                   {"amount": done.amount, "points": done.points}, now)
            await uow.commit()
            return done
    try:
        done = await again_if_transient(attempt)
    except PurchaseRefused as refused:
        return refusal(refused)
    return web.json_response({
        "order_id": done.order_id, "amount": done.amount, "points_reversed": done.points,
        "points_unrecovered": done.short, "refunded_total": done.refunded_total,
        "balance": done.balance, "duplicate": done.duplicate,
    }, status=200 if done.duplicate else 201)


async def store_sales(request: web.Request, data: dict[str, Any], now: datetime) -> web.Response:
    """A day's takings from every customer, members or not (domain/insight/takings.py)."""
    app = request.app[APP_KEY]
    parsing.required(data, "day", "amount", "orders", "currency")
    day = parsing.day(data, "day")
    amount = parsing.integer(data, "amount", 0, takings.MAX_AMOUNT)
    orders = parsing.integer(data, "orders", 0, takings.MAX_ORDERS)
    currency = parsing.identifier(data, "currency", identifiers.CURRENCY)
    assert amount is not None and orders is not None and currency is not None

    async def attempt() -> takings.Reported:
        async with app.db.uow() as uow:
            done = await takings.report(uow, app.programme, day, amount, orders, currency, now)
            await audit.record(uow, "api", "takings.report", day.isoformat(),
                               {"amount": amount, "orders": orders}, now)
            await uow.commit()
            return done
    try:
        done = await again_if_transient(attempt)
    except TakingsRefused as refused:
        return refusal(refused)
    return web.json_response({"day": done.day.isoformat(), "amount": done.amount,
                              "orders": done.orders, "corrected": done.corrected},
                             status=200 if done.corrected else 201)


async def redeem_coupon(request: web.Request, data: dict[str, Any],
                        now: datetime) -> web.Response:
    app = request.app[APP_KEY]
    code = request.match_info["code"]
    if not identifiers.valid(identifiers.COUPON_CODE, code):
        raise BadRequest("invalid_field", "the coupon code must match "
                                          f"{identifiers.anchored(identifiers.COUPON_CODE)}")
    till = parsing.identifier(data, "till", identifiers.ORDER_ID, required=False)
    actor = f"api:{till}" if till else "api"
    async with app.db.uow() as uow:
        try:
            coupon = await coupons.consume(uow, code, actor, now)
        except CouponRefused as refused:
            await uow.commit()  # the failed guess is counted
            return refusal(refused)
        await audit.record(uow, actor, "coupon.verify", coupon.code,
                           {"reward": coupon.reward, "member": coupon.member_id}, now)
        await uow.commit()
    return web.json_response({
        "code": coupon.code, "reward": coupon.reward, "kind": coupon.kind,
        "value": coupon.value, "member": str(coupon.member_id).zfill(8),
        "used_at": coupon.used_at.isoformat(),
    })


async def document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document(request.app[APP_KEY].programme.currency))


def recorder(app: App) -> Callable[[list[Till]], Awaitable[list[Any]]]:
    async def together(calls: list[Till]) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        found: dict[int, int] = {}  # call -> its member, one call per member
        async with app.db.uow() as uow:
            for i, (ref, _order, _now) in enumerate(calls):
                try:
                    member_id = await till_members.member_id_for(uow, ref)
                except PurchaseRefused as refused:
                    results[i] = refused
                    continue
                if member_id in found.values():  # its second order waits for the next batch
                    results[i] = LATER
                    continue
                found[i] = member_id
            await till_members.lock_members(uow, list(found.values()))
            for i, member_id in found.items():
                _ref, order, now = calls[i]
                try:
                    async with uow.savepoint():
                        results[i] = await purchases.record(uow, app.programme, member_id,
                                                            order, now)
                except PurchaseRefused as refused:
                    results[i] = refused
            await uow.commit()
        return results

    async def record(calls: list[Till]) -> list[Any]:
        # A failed batch comes back one call at a time (GroupCommit).
        if len(calls) == 1:
            return [await alone(calls[0])]
        return await again_if_transient(lambda: together(calls))

    async def alone(call: Till) -> Any:
        for attempt in range(3):
            try:
                (done,) = await again_if_transient(lambda: together([call]))
                return done
            except IntegrityError as conflict:  # a concurrent first call won; read its result
                if attempt == 2:
                    return conflict
            except Exception as failure:  # noqa: BLE001 - handed to its own caller
                return failure
        raise AssertionError("unreachable")
    return record


_UNSIGNED = {
    "unsigned": f"the request carries no {signing.TIMESTAMP} and {signing.SIGNATURE} "
                "headers: sign it with the API key (see the OpenAPI document)",
    "bad_timestamp": f"{signing.TIMESTAMP} is not a Unix time in whole seconds",
    "stale_timestamp": f"{signing.TIMESTAMP} is more than {signing.TOLERANCE_S} seconds "
                       "from this server's clock: check the clock of the machine that "
                       "signs (the key may well be right)",
    "bad_signature": "the signature does not match: sign the timestamp, a dot and the "
                     "body exactly as sent, with the API key (see the OpenAPI document)",
}


@asynccontextmanager
async def running(app: App, web_app: web.Application) -> AsyncIterator[None]:
    web_app[APP_KEY] = app
    # On PostgreSQL two batches at once: one is filling while the other waits on the
    # server. Four left each batch half as full beside a second worker, and its fixed
    # cost (a transaction, a connection) then took two workers to 1.02-1.08 times
    # one (benchmarks.scale); with two, 1.22-1.30.
    web_app[PURCHASES] = GroupCommit(recorder(app), limit=64,
                                     parallel=1 if app.db.dialect == "sqlite" else 2)
    web_app.router.add_post("/api/v1/purchases", signed(purchase))
    web_app.router.add_post("/api/v1/refunds", signed(refund))
    web_app.router.add_post("/api/v1/coupons/{code}/redeem", signed(redeem_coupon))
    web_app.router.add_post("/api/v1/store-sales", signed(store_sales))
    web_app.router.add_get("/api/v1/openapi.json", document)
    log.info("purchases API on /api/v1")
    yield
