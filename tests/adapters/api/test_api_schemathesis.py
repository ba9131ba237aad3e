"""schemathesis against the API as it is served: the first real client none of us wrote.

The OpenAPI document is fetched over HTTP from a real aiohttp server on each backend;
every request is generated from it, signed over the exact bytes sent, and every
response is checked against it by each schemathesis check that applies. Failures are
collected rather than stopped at, so one run lists every distinct disagreement, each
with the shortest request that showed it. schemathesis is synchronous (requests), so
it runs in a worker thread while the server serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.errors import FailureGroup, NoLinksFound
from sqlalchemy import update

from bot.api import signing
from domain.members import members
from domain.members.tables import Member
from domain.rewards import coupons
from tests.support.api_client import KEY, serving

DOCUMENT = "/api/v1/openapi.json"
PURCHASE = "POST /api/v1/purchases"
REFUND = "POST /api/v1/refunds"
REDEEM = "POST /api/v1/coupons/{code}/redeem"
TAKINGS = "POST /api/v1/store-sales"
EXAMPLES = {PURCHASE: 300, REFUND: 200, REDEEM: 150, TAKINGS: 100}  # others get 10
SCENARIOS = 80  # stateful runs, each a purchase followed along the document's links
STEPS = 6

# Every built-in check that can fire on what we send. Left out: those that only act on
# requests we do not make (unsupported_method, missing_required_header and
# allow_header_conformance need schemathesis's coverage phase or OPTIONS;
# object_level_authorization needs several identities) and max_response_time (a
# wall-clock limit). Looked up once a schema is loaded, which registers them.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "positive_data_acceptance", "ignored_auth",
          "use_after_free", "ensure_resource_availability")

SETTINGS = hypothesis.settings(
    deadline=None, derandomize=True, database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    # Failures are collected, not raised, so shrinking has nothing to do.
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])


PENDING = "to be signed"


class Pending:
    """schemathesis's auth provider: puts both headers on the case, so schemathesis sees a
    signed case for what it is (a negative case that only removed them is signed again,
    hence not negative), and leaves alone the cases that break them on purpose."""

    def get(self, case, context) -> str:
        return PENDING

    def set(self, case, data: str, context) -> None:
        case.headers = {**case.headers, signing.TIMESTAMP: "0", signing.SIGNATURE: data}


class Signature(requests.auth.AuthBase):
    """Signs what requests is about to send, when the case asked for it: schemathesis
    serializes the body itself, so only the prepared request holds the exact bytes."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.headers.get(signing.SIGNATURE) != PENDING:
            return request
        body = request.body if request.body is not None else b""
        if isinstance(body, str):  # send the UTF-8 we sign, not http.client's Latin-1
            body = request.body = body.encode()
            request.headers["Content-Length"] = str(len(body))
        assert isinstance(body, bytes), f"cannot sign a streamed body: {type(body)}"
        stamp = int(time.time())
        request.headers[signing.TIMESTAMP] = str(stamp)
        request.headers[signing.SIGNATURE] = signing.sign(KEY, stamp, body)
        return request


@dataclass
class Seeds:
    """What exists before schemathesis starts, for positive cases to name."""

    members: list[dict[str, str]]
    orders: list[str]
    coupons: list[str]


@dataclass
class Findings:
    """Distinct failures, by schemathesis's own notion of sameness (kind and operation),
    each kept with the shortest report; and every status each operation answered."""

    reports: dict[Any, str] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    followed: Counter[int] = field(default_factory=Counter)  # statuses of link-made calls

    def add(self, group: FailureGroup) -> None:
        for failure in group.exceptions:
            known = self.reports.get(failure)
            if known is None or len(group.message) < len(known):
                self.reports[failure] = group.message

    def answered(self, case, response) -> None:
        self.statuses[case.operation.label][response.status_code] += 1

    def broken(self, label: str, exc: requests.RequestException) -> None:
        self.reports.setdefault((label, type(exc).__name__),
                                f"{label}: no response: {type(exc).__name__}: {exc}")

    def succeeded(self, label: str) -> int:
        return sum(n for status, n in self.statuses[label].items() if 200 <= status < 300)

    def summary(self) -> str:
        counts = "\n".join(f"  {label}: {dict(sorted(c.items()))}"
                           for label, c in sorted(self.statuses.items()))
        found = "\n\n".join(self.reports.values())
        return (f"{len(self.reports)} distinct failure(s):\n\n{found}\n\n"
                f"statuses answered:\n{counts}")


@pytest.fixture
async def served(db, programme):
    async with serving(db, programme) as api:
        yield api.base, await seed(db, programme, api)


async def seed(db, programme, api) -> Seeds:
    """Members by each of the three ways a till names one, a coupon each, and orders
    that can be refunded: so that positive cases do not all end in a 404."""
    now = datetime.now(UTC)
    async with db.uow() as uow:
        ids = [(await members.register(uow, programme, "telegram", external_id, now)).member.id
               for external_id in ("1001", "1002", "1003")]
        await uow.session.execute(update(Member).where(Member.id == ids[0])
                                  .values(phone="+8613800138000"))
        codes = [coupons.display((await coupons.issue(uow, member_id, item, None, now)).code)
                 for member_id in ids for item in programme.rewards[:1]]
        await uow.commit()
    refs = [{"number": str(ids[0]).zfill(8)}, {"phone": "+86 138-0013-8000"},
            {"platform": "telegram", "external_id": "1002"}, {"number": str(ids[2])}]
    orders = [f"SEED-{n}" for n in range(1, 4)]
    for n, order_id in enumerate(orders):
        status, body = await api.post("/api/v1/purchases", {
            "order_id": order_id, "member": refs[n], "amount": 500_000, "currency": "CNY"})
        assert status == 201, body
    return Seeds(refs, orders, codes)


def load(base: str, seeds: Seeds, stateful: bool):
    """The document as served, with signing and seeding attached."""
    schema = schemathesis.openapi.from_url(base + DOCUMENT, config=schemathesis.Config())
    orders = itertools.count(1)
    schema.auth(refresh_interval=None)(Pending)

    @schema.hook
    def flatmap_case(context, case):
        """Steer some positive cases to what exists. Negative cases are left alone, as
        is what a link put in a case (stateful refunds carry their order's id)."""
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return st.just(case)
        if case.operation.label == PURCHASE and isinstance(case.body, dict):
            # A scenario's orders are its own: replayed, it meets the same answers
            # (hypothesis's state machine requires it), not a 200 or 409 from last time.
            fresh = f"WF-{next(orders)}" if stateful else None
            return st.sampled_from([None, *seeds.members]).map(
                lambda ref: _purchase(case, ref, fresh))
        if stateful:
            return st.just(case)
        if case.operation.label == REFUND and isinstance(case.body, dict):
            return st.sampled_from([None, *seeds.orders]).map(
                lambda order_id: _replace(case, "body", "order_id", order_id))
        if case.operation.label == REDEEM:
            return st.sampled_from([None, *seeds.coupons]).map(
                lambda code: _replace(case, "path_parameters", "code", code))
        if case.operation.label == TAKINGS and isinstance(case.body, dict):
            # A day that has passed: the document cannot say "not in the future".
            return st.sampled_from(["2026-01-31", "2024-02-29", "1999-12-31"]).map(
                lambda day: _replace(case, "body", "day", day))
        return st.just(case)

    return schema


def _purchase(case, ref: dict[str, str] | None, order_id: str | None):
    """A member that exists (when `ref`), and items worth at most the order each, as the
    document says in words (JSON Schema cannot compare two fields)."""
    body = dict(case.body)
    if ref is not None:
        body["member"] = dict(ref)
    if order_id is not None:
        body["order_id"] = order_id
    amount = body.get("amount")
    if _number(amount) and isinstance(body.get("items"), list):
        body["items"] = [{**item, "amount": min(item["amount"], amount)}
                         if isinstance(item, dict) and _number(item.get("amount")) else item
                         for item in body["items"]]
    case.body = body
    return case


def _number(value: Any) -> bool:
    """An integer as JSON Schema has it: 921.0 is one."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _replace(case, container: str, name: str, value: str | None):
    if value is not None:
        setattr(case, container, {**getattr(case, container), name: value})
    return case


def operations(schema):
    for path in schema:
        yield from schema[path].values()


def fuzz(schema, findings: Findings, session: requests.Session) -> None:
    """Stateless: each operation on its own, valid and invalid data alike."""
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    for operation in operations(schema):
        # Negative cases need something to break; the document's GET has nothing.
        negatable = bool(operation.body) or any(True for _ in operation.iter_parameters())
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        strategy = st.one_of([operation.as_strategy(generation_mode=mode) for mode in modes])

        @hypothesis.settings(SETTINGS, max_examples=EXAMPLES.get(operation.label, 10))
        @hypothesis.given(case=strategy)
        def call(case) -> None:
            try:
                response = case.call(session=session)
            except requests.RequestException as exc:
                findings.broken(case.operation.label, exc)
                return
            findings.answered(case, response)
            try:
                case.validate_response(response, checks=checks,
                                       transport_kwargs={"session": session})
            except FailureGroup as group:
                findings.add(group)

        call()


def explore(schema, findings: Findings, session: requests.Session) -> None:
    """Stateful: schemathesis's state machine, following the document's links."""
    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case) -> dict[str, Any]:
            return {"session": session}

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            findings.answered(case, response)

        def step(self, input):
            output = super().step(input)
            if input.transition is not None and input.is_applied:
                findings.followed[output.response.status_code] += 1
            return output

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                super().validate_response(response, case, additional_checks, **kwargs)
            except FailureGroup as group:
                findings.add(group)

    try:
        Workflow.run(settings=hypothesis.settings(
            SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS))
    except NoLinksFound as missing:  # raised when the first scenario starts
        pytest.fail(f"the document declares no links to follow: {missing}")


async def run(served, driver: Callable[..., None], stateful: bool) -> Findings:
    base, seeds = served
    findings = Findings()

    def work() -> None:
        schema = load(base, seeds, stateful)
        with requests.Session() as session:
            session.auth = Signature()  # probes that drop credentials use sessions of their own
            driver(schema, findings, session)

    await asyncio.to_thread(work)
    return findings


async def test_every_operation_answers_as_its_document_says(served):
    findings = await run(served, fuzz, stateful=False)
    assert not findings.reports, findings.summary()
    # Not vacuous: valid calls got through, all the way to the database and back.
    assert findings.succeeded(PURCHASE) and findings.succeeded(REFUND), findings.summary()
    assert findings.succeeded(TAKINGS), findings.summary()


async def test_following_the_documents_links_keeps_to_it(served):
    findings = await run(served, explore, stateful=True)
    assert not findings.reports, findings.summary()
    assert findings.succeeded(PURCHASE), findings.summary()
    # The links lead somewhere: a call made from a response's values succeeded.
    assert any(200 <= status < 300 for status in findings.followed), (
        f"link-made calls answered {dict(findings.followed)}\n{findings.summary()}")
