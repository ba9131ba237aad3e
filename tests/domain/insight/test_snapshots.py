"""The members' standing counted by the database, window by window, against lifecycle's
own rule applied member by member in Python."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from domain.insight import snapshots
from domain.lifecycle.lifecycle import stage_of
from domain.members.tables import Identity, Member
from tests.support import crowd
from tests.support.crowd import Person

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


async def test_the_standing_is_every_member_judged_by_lifecycles_rule(db, programme,
                                                                       monkeypatch):
    rng = random.Random(3)
    people = []
    for n in range(120):
        bought = rng.choice((0, 1, 2, 5, 20))
        last = rng.randrange(0, 400)
        people.append(Person(
            tier=rng.choice(("member", "silver", "gold", None)),
            status=rng.choice(("active", "active", "blocked", "erased")),
            points=rng.randrange(0, 5000), joined_days_ago=rng.choice((3, 40, 500)),
            idle_days=rng.choice((0, 10, 45, 100, 200, 400)), purchases=bought,
            first_purchase_days_ago=last + rng.randrange(0, 300) if bought else None,
            last_purchase_days_ago=last if bought else None,
            accounts=rng.choice(((("telegram", f"t{n}"),), (("wechat", f"w{n}"),),
                                 (("telegram", f"t{n}"), ("wechat", f"w{n}"))))))
    await crowd.add(db, people, NOW)
    monkeypatch.setattr(snapshots, "WINDOW", 7)  # windows far smaller than the members
    async with db.snapshot() as uow:
        found = await snapshots.read_now(uow, programme, NOW)
        members = list(await uow.session.scalars(select(Member)))
        platforms = (await uow.execute(select(Identity.platform, Identity.member_id))).all()
        kept = [m for m in members if m.status != "erased"]
        stage = {m.id: stage_of(m, programme.lifecycle, NOW) for m in kept}
        uow.session.expunge_all()
    expected: Counter[tuple[str, str]] = Counter()
    for m in kept:
        expected["members.total", ""] += 1
        expected["members.reachable", ""] += m.status == "active"
        expected["members.tier", m.tier or ""] += 1
        expected["members.stage", stage[m.id]] += 1
        expected["points.outstanding", ""] += m.points_balance
    ids = {m.id for m in kept}
    for platform in {p for p, _ in platforms}:
        expected["members.platform", platform] = len({i for p, i in platforms
                                                      if p == platform and i in ids})
    assert {k: v for k, v in found.items() if v} == {k: v for k, v in expected.items() if v}
    stages = {d for (m, d), v in found.items() if m == "members.stage" and v}
    assert stages == {"new", "active", "lapsing", "churned"}  # every stage was met
