"""Every multi-step flow is one checked table of states.

Each flow declares its waiting states once (a `Flow` beside its .mmd diagram). These
tests hold the diagram and the declaration to the same set, check that a step only
ever returns a state some step waits in, and show that each check fails on a drift.

How a diagram names its states: a waiting state is a node of class `state` whose
quoted label starts with the state's name, `member["purchase.member: ask"]:::state`.
Other nodes (buttons, checks, ends) are free prose.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import handlers
from domain.conversations.tables import Conversation
from domain.staff import roles
from handlers.engine.engine import Engine
from handlers.engine.routing import Flow, Outcome, Router, UnknownState
from handlers.engine.types import Inbound, reply
from handlers.routers import build_router
from tests.support import crowd
from tests.support.transcript import Clock, member

HANDLERS = Path(handlers.__file__).parent
ROUTER = build_router()
FLOWS = {flow.diagram.relative_to(HANDLERS).as_posix(): flow for flow in ROUTER.flows}
STATE_NODE = re.compile(r'\w+\s*[\[({]+"([^"]*)"[\])}]+:::state\b')
STATE_NAME = re.compile(r"[a-z_]+\.[a-z_]+")


def diagram_states(text: str) -> set[str]:
    """The states a diagram draws; a `state` node must be labelled with its name."""
    labels = STATE_NODE.findall(text)
    if len(labels) != text.count(":::state"):
        raise ValueError("a node of class state has no quoted label")
    names = set()
    for label in labels:
        name = STATE_NAME.match(label)
        if name is None:
            raise ValueError(f"a state node's label does not start with its name: {label!r}")
        names.add(name.group())
    return names


def drift(flow: Flow) -> str | None:
    """What differs between a flow's diagram and its declared states, if anything."""
    drawn, declared = diagram_states(flow.diagram.read_text()), set(flow.states)
    if drawn == declared:
        return None
    return f"only drawn: {sorted(drawn - declared)}; only in code: {sorted(declared - drawn)}"


# ------------------------------------------------------------------ diagrams and code agree

def test_the_flows_are_the_ones_we_drew():
    assert sorted(FLOWS) == ["campaigns/flow.mmd", "feedback/survey.mmd",
                             "feedback/survey_new.mmd", "members/profile.mmd",
                             "membership/refund.mmd",
                             "points/award.mmd", "points/purchase.mmd",
                             "privacy/deleteme.mmd", "privacy/member_data.mmd",
                             "rewards/catalogue.mmd", "support/inbox.mmd"]


@pytest.mark.parametrize("diagram", sorted(FLOWS))
def test_a_flow_and_its_diagram_have_the_same_states(diagram):
    assert drift(FLOWS[diagram]) is None


def test_a_diagram_without_a_flow_draws_no_waiting_state():
    """link, rewards and jobs move by buttons alone: nothing waits for typed text."""
    others = [p for p in HANDLERS.rglob("*.mmd") if p.relative_to(HANDLERS).as_posix()
              not in FLOWS]
    assert others, "the button-only diagrams are found"
    for path in others:
        assert diagram_states(path.read_text()) == set(), path


def test_every_waiting_step_belongs_to_a_declared_flow():
    declared = [state for flow in ROUTER.flows for state in flow.states]
    assert sorted(declared) == sorted(ROUTER.states)


DRIFTS = {
    "a state no longer marked": lambda text: text.replace(
        '"purchase.amount: ask the amount (128.50)"]:::state',
        '"purchase.amount: ask the amount (128.50)"]'),
    "a state misspelt": lambda text: text.replace('"purchase.amount:', '"purchase.amout:'),
    "a state the code lacks": lambda text: text.replace(
        "    classDef", '    note["purchase.note: ask for a note"]:::state\n    classDef'),
    "a state without its name": lambda text: text.replace(
        '"purchase.member: ask the member number"', '"ask the member number"'),
}


@pytest.mark.parametrize("change", sorted(DRIFTS))
def test_a_drifted_diagram_is_caught(tmp_path, change):
    flow = FLOWS["points/purchase.mmd"]
    text = flow.diagram.read_text()
    changed = DRIFTS[change](text)
    assert changed != text, "the change applies to the diagram as it is"
    copy = tmp_path / "purchase.mmd"
    copy.write_text(changed)
    try:
        found = drift(replace(flow, diagram=copy))
    except ValueError as unreadable:
        found = str(unreadable)
    assert found is not None


# ------------------------------------------------------------------ steps return registered states

def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """What a name or dotted name means at module level; None when it is local."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _state_argument(call: ast.Call, namespace: dict[str, Any]) -> ast.expr | None:
    """The expression a call passes as its callee's `state` parameter, if it has one."""
    callee = _resolve(call.func, namespace)
    try:
        signature = inspect.signature(callee) if callable(callee) else None
    except (TypeError, ValueError):
        return None
    if signature is None or "state" not in signature.parameters:
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    if "state" in keywords:
        return keywords["state"]
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    try:
        bound = signature.bind_partial(*range(len(call.args)))
    except TypeError:
        return None
    at = bound.arguments.get("state")
    return call.args[at] if isinstance(at, int) else None


def unregistered_states(source: str, namespace: dict[str, Any], registered: set[str]) -> list[str]:
    """Where a step returns a state that may have no step: a literal (the flow's
    constant is the one spelling), or a module constant no step waits in. A state
    passed through (`ctx.state`, a parameter) is checked where it was made."""
    problems = []
    for call in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)):
        state = _state_argument(call, namespace)
        if state is None or (isinstance(state, ast.Constant) and state.value is None):
            continue
        if isinstance(state, ast.Constant | ast.JoinedStr):
            problems.append(f"line {call.lineno}: a literal state {ast.unparse(state)}")
            continue
        value = _resolve(state, namespace)
        if isinstance(value, str) and value not in registered:
            problems.append(f"line {call.lineno}: {ast.unparse(state)} = {value!r} has no step")
    return problems


MODULES = sorted(m.name for m in pkgutil.walk_packages([str(HANDLERS)], "handlers."))


@pytest.mark.parametrize("name", MODULES)
def test_steps_return_only_registered_states(name):
    module = importlib.import_module(name)
    source = inspect.getsource(module)
    assert unregistered_states(source, vars(module), set(ROUTER.states)) == []


def test_the_scan_sees_the_states_the_flows_return():
    """The scan is not vacuous: it finds purchase's states where they are returned."""
    module = importlib.import_module("handlers.points.purchase")
    tree = ast.parse(inspect.getsource(module))
    found = {ast.unparse(arg) for call in ast.walk(tree) if isinstance(call, ast.Call)
             for arg in [_state_argument(call, vars(module))] if arg is not None}
    assert found == {"MEMBER", "AMOUNT"}


def test_the_scan_catches_a_literal_or_unknown_state():
    source = '''
from handlers.engine.routing import Outcome
GONE = "purchase.gone"

async def typed(ctx):
    if ctx.text == "a":
        return Outcome([], state="purchase.amout")
    if ctx.text == "b":
        return Outcome([], f"purchase.{ctx.text}")
    if ctx.text == "c":
        return Outcome([], state=GONE)
    return Outcome([], state=ctx.state)
'''
    namespace: dict[str, Any] = {}
    exec(compile(source, "drifted.py", "exec"), namespace)  # noqa: S102 - our own text
    problems = unregistered_states(source, namespace, set(ROUTER.states))
    assert [p.split(":")[0] for p in problems] == ["line 7", "line 9", "line 11"]


# ------------------------------------------------------------------ the router and engine refuse

def test_a_state_in_no_flow_cannot_be_registered():
    router = Router(flows=[Flow.beside(__file__, "x.mmd", "demo.one")])
    with pytest.raises(ValueError, match="demo.too"):
        router.state("demo.too")


def test_a_declared_state_without_its_step_cannot_be_included():
    router = Router(flows=[Flow.beside(__file__, "x.mmd", "demo.one", "demo.two")])

    @router.state("demo.one")
    async def one(ctx):
        return Outcome([])

    with pytest.raises(ValueError, match="demo.two"):
        Router().include(router)


def test_a_state_listed_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        Flow.beside(__file__, "x.mmd", "demo.one", "demo.one")


T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def test_the_engine_refuses_to_wait_in_a_state_without_a_step(db, programme, clock,
                                                                   caplog):
    router = build_router()

    async def typo(ctx):
        return Outcome([reply("purchase.ask_member")], state="purchase.membr")

    router.commands["typo"] = typo
    engine = Engine(db, programme, router, clock=clock)
    answer = await engine.handle(Inbound(platform="console", user_id="zoe", chat_id="zoe",
                                         text="/typo", locale="en"))
    assert "went wrong" in answer.rendered()[0].text
    refused = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [type(e) for e in refused] == [UnknownState] and "purchase.membr" in str(refused[0])
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Conversation.state)) is None


async def test_a_state_left_by_a_removed_flow_waits_for_nothing(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        conv = await uow.session.get(Conversation, ("console", "alice"))
        conv.state = "survey.question"  # saved before an upgrade removed the flow
        await uow.commit()
    assert "nothing to cancel" in await alice.say("/cancel")


# ------------------------------------------------------------------ the two drifts, as seen

async def _operator(db, programme, clock):
    chat = member(db, programme, clock, user="boss")
    await chat.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:boss", clock.now)
        await uow.commit()
    return chat


async def _state(db, user: str) -> str | None:
    async with db.uow() as uow:
        return (await uow.session.get(Conversation, ("console", user))).state


async def test_a_bad_purchase_amount_asks_the_amount_again(db, programme, clock):
    boss = await _operator(db, programme, clock)
    assert "not an amount" in await boss.say("/purchase 1 lots")
    assert await _state(db, "boss") == "purchase.amount"
    assert "not an amount" in await boss.say("12.345")
    assert await _state(db, "boss") == "purchase.amount"
    assert "¥128.50" in await boss.say("128.50")


async def test_a_coupon_from_an_empty_catalogue_offers_the_choices_again(db, programme,
                                                                        clock):
    empty = programme.model_copy(update={"rewards": []})
    boss = await _operator(db, empty, clock)
    await crowd.plain(db, 2, clock.now, first_id=2)
    await boss.say("/campaign")
    out = await boss.say("12")  # Next
    assert "Step 2 of 5" in out
    await boss.say("Spring tea has arrived")
    out = await boss.say("2")  # a coupon
    assert "The catalogue has no rewards to make a coupon of." in out
    assert "[1] No offer  [2] A coupon" in out
    assert await _state(db, "boss") == "campaign.offer"
    assert "Step 4 of 5" in await boss.say("1")  # no offer, on to the A/B step
