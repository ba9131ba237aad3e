"""Offline evaluation of personal reward picks: hit rate at 3 against popularity.

    python -m benchmarks.recommendations [--members N] [--catalogues C] [--items K]
                                         [--seed S] [--backends sqlite,postgresql]
                                         [--pg-url URL]

Each member's last redemption is hidden; the picks are ranked from the history before
it (the model is built from everyone's history without the hidden ones), at the moment
of the hidden redemption, with the member's balance and usual earning then. A hit is
the hidden item among the three picks. The ranking is `domain.insight.recommendations.
rank`, the bot's own, on the generated history in memory; what a member may have is
`domain.rewards.rewards.judge`'s verdict, as in the bot.

Baselines, on the same data in the same run:
* popularity (the baseline): the three most redeemed items overall among the very
  candidates the picks choose from (what the member may redeem now, or lacks only
  points for that their usual earning over 30 days covers), so it excludes exactly what
  the picks exclude;
* popularity, redeemable now: the same among what the member can redeem at once, a
  stricter baseline that knows the balance too.
The picks must reach 1.2 times the baseline's hit rate over all catalogues together
(exit status 1 if not). Ablations show what each part of the blend adds, and a ceiling
row what ranking by the generator's own taste (which no method can see) would hit.

A catalogue's draw moves every figure a lot (a cheap item that is also the favourite
makes popularity hard to beat), so C catalogues (default 5, seeds S, S+1, ...) are
generated, each with its own N members, and the hits are added up over them.

The generated history (its assumptions):
* A catalogue of K items (default 30), costs log-uniform from 100 to 3,000 points in
  tens; about a quarter need silver and an eighth gold; a fifth may be redeemed once per
  member and a fifth three times. No stock limits or dates: the tests cover those.
* Members are 60% member, 28% silver, 12% gold (their tier does not change). Each joins
  within the first 270 of 360 days and visits every few days (exponential gaps, mean 7
  days), earning about their own monthly rate each 30 days (log-normal around 200, 350
  and 600 points by tier), varying per visit.
* Taste is skewed: item popularity follows Zipf (exponent 1.1) over a random order of
  the items, so a few take most redemptions. Each tier likes four items of its own four
  times as much as other tiers do. The items fall into themes of three (a tea set, its
  cups, a tin of leaves): 70% of members care for one theme, whose items they want six
  times as much, and anyone who redeems an item of a theme wants the other two eight
  times as much from then on (items bought together). A member's want of an item is
  the product of these.
* Members save for what they want: on a visit without a wish, one in three picks a wish
  among the items they may have (tier, per-member limit), in proportion to their want,
  whatever it costs; once the balance covers it, they redeem it on a visit with chance
  0.7. A wish not reached in 120 days is given up. So dear items are redeemed by savers,
  and the balance at a redemption tends to sit a little above the cost of what was
  saved for: closeness in points (cost / balance) reads that. How much of the lift
  rests on this assumption shows in the "tier popularity, together" row, which leaves
  closeness out.

The database part, per backend, on the first catalogue: the same history (without the
hidden redemptions) is written to a fresh database; `domain.insight.cooccurrence.build`
builds the model from it as the bot does (windows of member ids, each from a
snapshot), timed, with the loop's worst wait meanwhile (a ticker sleeping 1 ms; in
brackets the same ticker on an idle loop for as long, which is what the machine's load
alone costs), and checked equal to the model built in memory; then
`recommendations.for_members` is timed over a sample of members, a slice of 100 per
transaction, as a campaign asks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

import domain.tables  # noqa: F401  (every table, for create_all)
from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    on_backend,
    pg_reachable,
)
from domain import config
from domain.config import LocalText, Programme, RewardItem
from domain.insight import cooccurrence, recommendations
from domain.insight.cooccurrence import Model, Tally
from domain.insight.recommendations import Weights
from domain.members.tables import Member
from domain.points.tables import LedgerEntry
from domain.rewards import rewards
from domain.rewards.rewards import Offer
from domain.rewards.tables import Redemption
from domain.storage.database import Database
from domain.storage.tables import Base

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
START = NOW - timedelta(days=360)
TARGET = 1.2
TIERS = (("member", 0.60, 200), ("silver", 0.28, 350), ("gold", 0.12, 600))
ZIPF = 1.1
TIER_FAVOURITES, TIER_BOOST = 4, 4.0
THEME_SIZE, THEME_SHARE, THEME_BOOST = 3, 0.7, 6.0
COMPLEMENT = 8.0
MEAN_GAP_DAYS = 7
WISH_CHANCE, REDEEM_CHANCE, GIVE_UP_DAYS = 1 / 3, 0.7, 120
SAMPLE = 500  # members whose picks the database part times


@dataclass
class Person:
    id: int
    tier: str
    joined_at: datetime
    earned: list[tuple[datetime, int]] = field(default_factory=list)
    # (when, reward, balance just before)
    redeemed: list[tuple[datetime, str, int]] = field(default_factory=list)
    balance: int = 0
    want: dict[str, float] = field(default_factory=dict)  # as it was at the last redemption


# ------------------------------------------------------------------ the generated history

def catalogue(rng: random.Random, size: int) -> tuple[RewardItem, ...]:
    items = []
    for i in range(size):
        cost = int(round(math.exp(rng.uniform(math.log(100), math.log(3000))), -1))
        roll = rng.random()
        tier = "gold" if roll < 0.125 else "silver" if roll < 0.375 else None
        roll = rng.random()
        limit = 1 if roll < 0.2 else 3 if roll < 0.4 else None
        code = f"item_{i:02d}"
        wording = LocalText(en=code, zh_Hans=code)
        items.append(RewardItem(code=code, kind="goods", title=wording, description=wording,
                                cost=max(cost, 10), min_tier=tier, per_member=limit))
    return tuple(items)


def tastes(rng: random.Random, items: tuple[RewardItem, ...]
           ) -> tuple[dict[str, float], dict[str, dict[str, float]], list[list[str]]]:
    """Popularity by item, each tier's boost by item, and the themes."""
    codes = [i.code for i in items]
    order = rng.sample(codes, len(codes))
    popularity = {code: 1 / (rank + 1) ** ZIPF for rank, code in enumerate(order)}
    boosts = {}
    for tier, _, _ in TIERS:
        liked = set(rng.sample(codes, min(TIER_FAVOURITES, len(codes))))
        boosts[tier] = {code: TIER_BOOST if code in liked else 1.0 for code in codes}
    shuffled = rng.sample(codes, len(codes))
    themes = [shuffled[i:i + THEME_SIZE] for i in range(0, len(shuffled), THEME_SIZE)]
    return popularity, boosts, themes


def simulate(rng: random.Random, members: int,
             items: tuple[RewardItem, ...]) -> list[Person]:
    popularity, boosts, themes = tastes(rng, items)
    ladder = [t for t, _, _ in TIERS]
    people = []
    for member_id in range(1, members + 1):
        tier = rng.choices(ladder, [share for _, share, _ in TIERS])[0]
        rate = dict((t, r) for t, _, r in TIERS)[tier] * math.exp(rng.gauss(0, 0.6))
        theme = set(rng.choice(themes)) if rng.random() < THEME_SHARE else set()
        want = {i.code: popularity[i.code] * boosts[tier][i.code]
                * (THEME_BOOST if i.code in theme else 1.0) for i in items}
        person = Person(member_id, tier, START + timedelta(days=rng.uniform(0, 270)))
        _live(rng, person, items, want, rate, ladder, themes)
        people.append(person)
    return people


def _live(rng: random.Random, person: Person, items: tuple[RewardItem, ...],
          want: dict[str, float], rate: float, ladder: list[str],
          themes: list[list[str]]) -> None:
    at, wish, since = person.joined_at, None, person.joined_at
    taken: Counter[str] = Counter()
    rank = ladder.index(person.tier)
    while True:
        gap = rng.expovariate(1 / MEAN_GAP_DAYS)
        at += timedelta(days=gap)
        if at >= NOW:
            return
        points = max(1, int(rate * gap / 30 * math.exp(rng.gauss(0, 0.4))))
        person.earned.append((at, points))
        person.balance += points
        if wish is not None and (at - since).days > GIVE_UP_DAYS:
            wish = None
        if wish is None and rng.random() < WISH_CHANCE:
            allowed = [i for i in items
                       if (i.min_tier is None or ladder.index(i.min_tier) <= rank)
                       and (i.per_member is None or taken[i.code] < i.per_member)]
            if allowed:
                wish = rng.choices(allowed, [want[i.code] for i in allowed])[0]
                since = at
        if wish is not None and person.balance >= wish.cost and rng.random() < REDEEM_CHANCE:
            person.redeemed.append((at + timedelta(seconds=1), wish.code, person.balance))
            person.want = dict(want)
            person.balance -= wish.cost
            if not taken[wish.code]:
                for theme in themes:
                    if wish.code in theme:
                        want.update({code: want[code] * COMPLEMENT for code in theme
                                     if code != wish.code})
            taken[wish.code] += 1
            wish = None


# ------------------------------------------------------------------ the evaluation

@dataclass(frozen=True)
class Case:
    person: Person
    hidden: str
    history: Counter[str]
    offers: list[Offer]
    balance: int
    reach: int


def cases(programme: Programme, people: list[Person]) -> list[Case]:
    found = []
    for person in people:
        if not person.redeemed:
            continue
        at, hidden, balance = person.redeemed[-1]
        history = Counter(code for _, code, _ in person.redeemed[:-1])
        since = at - timedelta(days=recommendations.EARNING_WINDOW_DAYS)
        earned = sum(p for when, p in person.earned if since < when <= at)
        reach = recommendations.usual_earning(earned, person.joined_at, at)
        member = Member(id=person.id, tier=person.tier)
        offers = [rewards.judge(programme, item, member, balance, history[item.code], None, at)
                  for item in programme.catalogue()]
        found.append(Case(person, hidden, history, offers, balance, reach))
    return found


def trained(people: list[Person]) -> Model:
    """The model of everyone's history without their hidden redemption."""
    tally = Tally()
    for person in people:
        tally.add(person.tier, Counter(code for _, code, _ in person.redeemed[:-1]))
    return tally.model(NOW)


def popular(model: Model, offers: list[Offer]) -> list[str]:
    """The baseline: most redeemed overall, ties as the picks break them."""
    ranked = sorted(offers, key=lambda o: (-model.redeemed.get(o.item.code, 0), o.item.cost,
                                           o.item.code))
    return [o.item.code for o in ranked[:recommendations.PICKS]]


Method = Callable[[Case], list[str]]
BASELINE = "popularity (baseline)"
PICKS = "picks (the bot's blend)"
CEILING = "ceiling: the generator's own taste"


def methods(model: Model) -> dict[str, Method]:
    def ranking(weights: Weights) -> Method:
        return lambda c: [p.item.code for p in recommendations.rank(
            model, c.person.tier, c.history, c.offers, c.balance, c.reach, weights=weights)]

    return {
        BASELINE: lambda c: popular(model, recommendations.candidates(c.offers, c.reach)),
        "popularity, redeemable now":
            lambda c: popular(model, [o for o in c.offers if o.locked is None]),
        "tier popularity only": ranking(Weights(1.0, 0.0, 0.0)),
        "tier popularity, together": ranking(Weights(1.0, 1.0, 0.0)),
        "tier popularity, closeness": ranking(Weights(1.0, 0.0, 1.0)),
        PICKS: ranking(recommendations.WEIGHTS),
        # Not a method anyone could run: what the member truly wanted most among what
        # they could redeem, to show how much taste alone leaves to find.
        CEILING: lambda c: [o.item.code for o in sorted(
            (o for o in c.offers if o.locked is None),
            key=lambda o: (-c.person.want[o.item.code], o.item.cost, o.item.code))[:3]],
    }


def evaluate(model: Model, found: list[Case]) -> dict[str, Counter[str]]:
    """Hits by method: of all cases, of those with a history, of cold starts."""
    hits: dict[str, Counter[str]] = {}
    for name, method in methods(model).items():
        tally = hits[name] = Counter()
        for case in found:
            if case.hidden in method(case):
                tally["all"] += 1
                tally["warm" if case.history else "cold"] += 1
    return hits


# ------------------------------------------------------------------ the database part

async def write(db: Database, people: list[Person]) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    members, entries, redemptions = [], [], []
    for p in people:
        members.append(dict(id=p.id, tier=p.tier, joined_at=p.joined_at,
                            last_active_at=NOW, referral_code=f"R{p.id}",
                            points_balance=p.balance))
        entries += [dict(member_id=p.id, delta=points, kind="earn", reason="purchase",
                         params={}, source="bench", idempotency_key=f"e:{p.id}:{n}",
                         created_at=at) for n, (at, points) in enumerate(p.earned)]
        redemptions += [dict(key=f"r:{p.id}:{n}", member_id=p.id, reward=code,
                             cost=0, created_at=at)
                        for n, (at, code, _) in enumerate(p.redeemed[:-1])]
    async with db.engine.begin() as conn:
        await conn.execute(insert(Member), members)
        for table, rows in ((LedgerEntry, entries), (Redemption, redemptions)):
            for at in range(0, len(rows), 20_000):
                await conn.execute(insert(table), rows[at:at + 20_000])


async def _ticker(worst: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        due = time.perf_counter() + 0.001
        await asyncio.sleep(0.001)
        worst[0] = max(worst[0], time.perf_counter() - due)


async def measure(db: Database, programme: Programme, people: list[Person],
                  expected: Model) -> list[str]:
    began = time.perf_counter()
    await write(db, people)
    written = time.perf_counter() - began
    # As `memberbot run` freezes what start-up built (bot.memory): else a full collection
    # walks this run's generated history, which the bot does not hold, and shows as lag.
    gc.collect()
    gc.freeze()
    worst, stop = [0.0], asyncio.Event()
    ticker = asyncio.create_task(_ticker(worst, stop))
    began = time.perf_counter()
    model = await cooccurrence.build(db, NOW)
    built = time.perf_counter() - began
    stop.set()
    await ticker
    idle, stop = [0.0], asyncio.Event()  # the same ticker with nothing else running
    ticker = asyncio.create_task(_ticker(idle, stop))
    await asyncio.sleep(max(built, 0.05))
    stop.set()
    await ticker
    gc.unfreeze()
    same = all(getattr(model, f) == getattr(expected, f) for f in (
        "members", "tier_members", "takers", "tier_takers", "redeemed", "together"))
    sample = [p.id for p in people[:SAMPLE]]
    began = time.perf_counter()
    picked = 0
    for at in range(0, len(sample), 100):
        async with db.uow() as uow:
            found = await recommendations.for_members(uow, programme, model,
                                                      sample[at:at + 100], NOW)
            picked += sum(len(p) for p in found.values())
    each = (time.perf_counter() - began) / len(sample)
    return [db.dialect, f"{written:.1f}", f"{built * 1000:,.0f}",
            f"{worst[0] * 1000:.1f} ({idle[0] * 1000:.1f})",
            "yes" if same else "NO", f"{each * 1000:.2f}", f"{picked / len(sample):.2f}"]


# ------------------------------------------------------------------ report

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.recommendations",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=4_000,
                   help="members to generate (default 4,000; try 50,000 for a bigger run)")
    p.add_argument("--items", type=int, default=30, help="catalogue items (default 30)")
    p.add_argument("--catalogues", type=int, default=5,
                   help="catalogues generated, each with its members (default 5)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the first catalogue; the next ones count on (default 1)")
    add_backend_arguments(p)
    args = p.parse_args(argv)
    args.backends = chosen_backends(p, args)
    if args.members < 100 or not 6 <= args.items <= 500 or args.catalogues < 1:
        p.error("--members must be at least 100, --items from 6 to 500, --catalogues 1 or more")
    return args


@dataclass
class Round:
    programme: Programme
    people: list[Person]
    model: Model
    cases: Counter[str]
    hits: dict[str, Counter[str]]


def one_round(base: Programme, seed: int, members: int, items: int) -> Round:
    rng = random.Random(seed)
    programme = base.model_copy(update={"rewards": catalogue(rng, items)})
    people = simulate(rng, members, programme.rewards)
    found = cases(programme, people)
    model = trained(people)
    counted = Counter(all=len(found), warm=sum(bool(c.history) for c in found))
    counted["cold"] = counted["all"] - counted["warm"]
    return Round(programme, people, model, counted, evaluate(model, found))


def report(rounds: list[Round]) -> tuple[str, float]:
    cases: Counter[str] = sum((r.cases for r in rounds), Counter())
    names = list(rounds[0].hits)
    hits = {name: sum((r.hits[name] for r in rounds), Counter()) for name in names}
    base = hits[BASELINE]["all"]
    rows = []
    for name in names:
        rows.append([name, *(f"{hits[name][part] / cases[part]:.3f}" if cases[part] else "-"
                             for part in ("all", "warm", "cold")),
                     f"{hits[name]['all'] / base:.2f}" if base else "-"])
    table = format_table(("method", "hit@3", "with history", "cold start", "x baseline"),
                         rows, left={0})
    return table, hits[PICKS]["all"] / base if base else 0.0


async def main_async(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    print(f"recommendations benchmark: {args.catalogues} catalogues of {args.items} items, "
          f"{args.members:,} members each, seeds from {args.seed}; "
          f"load average {load_average()}", flush=True)
    base: Programme = config.load()
    rounds = []
    for n in range(args.catalogues):
        done = one_round(base, args.seed + n, args.members, args.items)
        rounds.append(done)
        redeemed = sum(len(p.redeemed) for p in done.people)
        ratio = done.hits[PICKS]["all"] / max(done.hits[BASELINE]["all"], 1)
        print(f"  seed {args.seed + n}: {redeemed:,} redemptions, {done.cases['all']:,} "
              f"members evaluated ({done.cases['cold']:,} cold starts); picks hit@3 "
              f"{done.hits[PICKS]['all'] / done.cases['all']:.3f}, baseline "
              f"{done.hits[BASELINE]['all'] / done.cases['all']:.3f}, ratio {ratio:.2f}",
              flush=True)
    table, ratio = report(rounds)
    print(f"\nall {args.catalogues} catalogues together:\n{table}")
    passed = ratio >= TARGET
    print(f"\npicks / popularity: {ratio:.2f} (target >= {TARGET}): "
          f"{'PASS' if passed else 'FAIL'}")

    first = rounds[0]
    figures = []
    for backend in args.backends:
        if backend == "postgresql":
            why = await pg_reachable(args.pg_url)
            if why is not None:
                print(f"  postgresql skipped: not reachable at {args.pg_url} ({why})")
                continue
        figures.append(await on_backend(backend, args.pg_url, lambda db: measure(
            db, first.programme, first.people, first.model)))
    if figures:
        print(f"\nthe database part (seed {args.seed}):")
        print(format_table(("backend", "written s", "model build ms",
                            "loop worst wait ms (idle)",
                            "same model", "picks ms/member", "picks/member"),
                           figures, left={0}))
        passed = passed and all(f[4] == "yes" for f in figures)
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average {load_average()}")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
