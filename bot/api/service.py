"""The API routes on the shared aiohttp app. Every call is signed (see signing.py);
with no MEMBERBOT_API_KEY the service is not started at all, so the API is off.

Each call is one unit of work: it commits what it did, or nothing. Refusals are JSON
`{"error": {"code", "message"}}` with a 4xx status and change nothing, except that a
wrong coupon code is counted against the till that tried it. Purchases arriving
together share one transaction (domain.group_commit), each in a savepoint of its own,
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
from domain import audit, coupons, purchases, refunds, till_members
from domain.coupons import CouponRefused
from domain.errors import DomainError, InvalidInput
from domain.group_commit import LATER, GroupCommit
from domain.profile import parse_phone
from domain.purchases import PurchaseRefused

log = logging.getLogger(__name__)
APP_KEY: web.AppKey[App] = web.AppKey("memberbot_api_app", App)
Till = tuple[dict[str, str], purchases.Order, datetime]
PURCHASES: web.AppKey[GroupCommit] = web.AppKey("memberbot_api_purchases", GroupCommit)
Handler = Callable[[web.Request, dict[str, Any], datetime], Awaitable[web.Response]]
STATUS = {"unknown_member": 404, "unknown_order": 404, "coupon_unknown": 404,
          "order_conflict": 409, "already_refunded": 409, "coupon_used": 409,
          "coupon_expired": 410, "too_many_attempts": 429}


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def signed(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def checked(request: web.Request) -> web.Response:
        app = request.app[APP_KEY]
        raw = await request.read()
        problem = signing.verify(app.settings.api_key or "", request.headers.get(signing.TIMESTAMP),
                                 request.headers.get(signing.SIGNATURE), raw, time.time())
        if problem is not None:
            return error(401, problem, "the request is not signed with the API key "
                                       "(see the OpenAPI document)")
        try:
            return await handler(request, parsing.body(raw), datetime.now(UTC))
        except BadRequest as bad:
            return error(400, bad.code, bad.message)
    return checked


def refusal(refused: DomainError) -> web.Response:
    detail = ", ".join(f"{k}={v}" for k, v in refused.params.items())
    return error(STATUS.get(refused.code, 422), refused.code,
                 refused.code.replace("_", " ") + (f" ({detail})" if detail else ""))


async def purchase(request: web.Request, data: dict[str, Any], now: datetime) -> web.Response:
    ref, order = parsing.member_ref(data), parsing.order(data)
    if "phone" in ref:
        try:
            ref["phone"] = parse_phone(ref["phone"])
        except InvalidInput:
            raise BadRequest("invalid_field", "member.phone is not a phone number") from None
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
    order_id = parsing.text(data, "order_id")
    amount = parsing.integer(data, "amount", required=False)
    refund_id = parsing.text(data, "refund_id", required=False)
    try:
        async with app.db.uow() as uow:
            done = await refunds.refund(uow, app.programme, order_id, amount, refund_id, now)
            if not done.duplicate:
                await audit.record(uow, "api", "purchase.refund", order_id,
                                   {"amount": done.amount, "points": done.points}, now)
            await uow.commit()
    except PurchaseRefused as refused:
        return refusal(refused)
    return web.json_response({
        "order_id": done.order_id, "amount": done.amount, "points_reversed": done.points,
        "points_unrecovered": done.short, "refunded_total": done.refunded_total,
        "balance": done.balance, "duplicate": done.duplicate,
    }, status=200 if done.duplicate else 201)


async def redeem_coupon(request: web.Request, data: dict[str, Any],
                        now: datetime) -> web.Response:
    app = request.app[APP_KEY]
    till = parsing.text(data, "till", required=False) or "api"
    actor = f"api:{till}" if till != "api" else "api"
    async with app.db.uow() as uow:
        try:
            coupon = await coupons.consume(uow, request.match_info["code"], actor, now)
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
    return web.json_response(openapi.DOCUMENT)


def recorder(app: App) -> Callable[[list[Till]], Awaitable[list[Any]]]:
    async def together(calls: list[Till]) -> list[Any]:
        results: list[Any] = []
        busy: set[int] = set()
        async with app.db.uow() as uow:
            for ref, order, now in calls:
                try:
                    async with uow.session.begin_nested():
                        member_id = await till_members.member_id_for(uow, ref)
                        if member_id in busy:  # its second order waits for the next batch
                            results.append(LATER)
                            continue
                        busy.add(member_id)
                        results.append(await purchases.record(uow, app.programme, member_id,
                                                              order, now))
                except PurchaseRefused as refused:
                    results.append(refused)
            await uow.commit()
        return results

    async def record(calls: list[Till]) -> list[Any]:
        if len(calls) > 1:
            try:
                return await together(calls)
            except Exception:  # noqa: BLE001 - rolled back; each is recorded on its own below
                log.info("a purchase batch failed; recording one by one", exc_info=True)
        return [await alone(call) for call in calls]

    async def alone(call: Till) -> Any:
        for attempt in range(3):
            try:
                (done,) = await together([call])
                return done
            except IntegrityError as conflict:  # a concurrent first call won; read its result
                if attempt == 2:
                    return conflict
            except Exception as failure:  # noqa: BLE001 - handed to its own caller
                return failure
        raise AssertionError("unreachable")
    return record


@asynccontextmanager
async def running(app: App, web_app: web.Application) -> AsyncIterator[None]:
    web_app[APP_KEY] = app
    web_app[PURCHASES] = GroupCommit(recorder(app), limit=64,
                                     parallel=1 if app.db.dialect == "sqlite" else 4)
    web_app.router.add_post("/api/v1/purchases", signed(purchase))
    web_app.router.add_post("/api/v1/refunds", signed(refund))
    web_app.router.add_post("/api/v1/coupons/{code}/redeem", signed(redeem_coupon))
    web_app.router.add_get("/api/v1/openapi.json", document)
    log.info("purchases API on /api/v1")
    yield
