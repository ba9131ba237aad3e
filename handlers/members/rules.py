"""/rules: how the programme works, for members, read from the programme file itself:
how points are earned, the tier ladder and its rule, and when points expire. A member
who sees the whole upgrade path knows what the next visit is worth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from domain.config import LocalText, Programme, Promotion
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Local, Money, Reply, Text, reply
from handlers.engine.words import local, multiplier, tier_name
from handlers.points.earning_words import category_name, sku_name

router = Router()
SHOW = "rules:show"  # the button under /tier


@router.command("rules")
async def rules(ctx: Ctx) -> Outcome:
    return Outcome([explain(ctx.programme, ctx.local(ctx.now).date())])


@router.action(SHOW)
async def show(ctx: Ctx) -> Outcome:
    return Outcome([explain(ctx.programme, ctx.local(ctx.now).date())])


def explain(programme: Programme, today: date) -> Reply:
    return reply("rules.text", programme=local(programme.name),
                 earning=_earning(programme, today) or [Text("rules.no_earning")],
                 tiers=_tiers(programme), expiry=_expiry(programme, today))


def _earning(programme: Programme, today: date) -> list[Text]:
    rules, checkin = programme.earning, programme.checkin
    lines: list[Text] = []
    if rules.points_per_unit:
        lines.append(Text("rules.purchase", {
            "count": rules.points_per_unit, "unit": Money(rules.unit_minor, programme.currency)}))
    if rules.first_purchase:
        lines.append(Text("rules.first_purchase", {"points": rules.first_purchase}))
    if checkin.base_points:
        lines.append(Text("rules.checkin", {"count": checkin.base_points}))
    for bonus in sorted(checkin.streak_bonuses, key=lambda b: b.days):
        if bonus.points:
            lines.append(Text("rules.streak", {"days": bonus.days, "points": bonus.points}))
    if any(b.points for b in checkin.streak_bonuses):
        lines.append(Text("rules.streak_cycle", {"days": _days(checkin.cycle_days)})
                     if checkin.cycle_days else Text("rules.streak_once"))
    lines += [_promotion(p) for p in rules.promotions if not _over(p, today)]
    lines += [Text("rules.category", {"category": category_name(rules, b.category),
                                      "percent": b.percent})
              for b in rules.category_bonuses]
    lines += [Text("rules.sku", {"sku": sku_name(rules, b.sku), "points": b.points})
              for b in rules.sku_bonuses if b.points]
    if rules.referrer or rules.referee:
        referral = {"referrer": rules.referrer, "referee": rules.referee}
        lines.append(Text("rules.referral_capped", {**referral, "count": rules.referral_cap})
                     if rules.referral_cap else Text("rules.referral", referral))
    if rules.profile_completion:
        lines.append(Text("rules.profile", {"points": rules.profile_completion}))
    birthday = _birthday(programme)
    if birthday is not None:
        lines.append(birthday)
    return lines


def _over(promotion: Promotion, today: date) -> bool:
    """A promotion that can no longer apply is no rule any more."""
    if promotion.ends is not None and promotion.ends < today:
        return True
    return bool(promotion.dates) and max(promotion.dates) < today


def _promotion(promotion: Promotion) -> Text:
    when: list[Text] = []
    if promotion.weekdays:
        days = [Text(f"rules.weekday.{d}") for d in sorted(set(promotion.weekdays))]
        when.append(Text("rules.every", {"days": _listed(days)}))
    if promotion.dates:
        when.append(Text("rules.on", {"dates": _listed(sorted(promotion.dates))}))
    if promotion.starts and promotion.ends:
        when.append(Text("rules.between", {"starts": promotion.starts, "ends": promotion.ends}))
    elif promotion.starts:
        when.append(Text("rules.from", {"starts": promotion.starts}))
    elif promotion.ends:
        when.append(Text("rules.until", {"ends": promotion.ends}))
    return Text("rules.promotion", {"name": local(promotion.name), "percent": promotion.percent,
                                    "when": _listed(when)})


def _birthday(programme: Programme) -> Text | None:
    gift = programme.birthday
    if not gift.enabled:
        return None
    item = programme.reward(gift.reward) if gift.reward else None
    title = local(item.title) if item is not None else gift.reward
    if gift.points and title is not None:
        what = Text("rules.gift_both", {"points": gift.points, "reward": title})
    elif gift.points:
        what = Text("rules.gift_points", {"points": gift.points})
    else:
        what = Text("rules.gift_reward", {"reward": title})
    if gift.benefit is None:
        return Text("rules.birthday", {"gift": what})
    tiers = [tier_name(t) for t in programme.tiers.levels if gift.benefit in t.benefits]
    if not tiers:
        return None  # no tier gives it: nobody gets a gift
    if len(tiers) == len(programme.tiers.levels):
        return Text("rules.birthday", {"gift": what})
    return Text("rules.birthday_tiers", {"gift": what, "tiers": _listed(tiers)})


def _tiers(programme: Programme) -> list[Text]:
    ladder = programme.tiers
    by_spend = ladder.basis == "spend"
    lines = [Text("rules.tier_spend" if by_spend else "rules.tier_points",
                  {"days": _days(ladder.window_days)})]
    for level in ladder.levels:
        threshold: Any = (Money(level.threshold, programme.currency) if by_spend
                          else Text("rules.threshold_points", {"count": level.threshold}))
        params: dict[str, Any] = {"tier": tier_name(level), "threshold": threshold}
        key = "rules.level_base"  # ×1 is no benefit: said only when points grow
        if level.multiplier_percent != 100:
            key, params["multiplier"] = "rules.level", multiplier(level.multiplier_percent)
        benefits = [_mid_sentence(programme.benefits[code]) for code in level.benefits]
        if benefits:
            key, params["benefits"] = f"{key}_benefits", _listed(benefits)
        lines.append(Text(key, params))
    if ladder.mode == "only_up":
        lines.append(Text("rules.only_up"))
    elif ladder.grace_days:
        lines.append(Text("rules.up_and_down", {"validity": _days(ladder.validity_days),
                                                "grace": _days(ladder.grace_days)}))
    else:
        lines.append(Text("rules.up_and_down_no_grace",
                          {"validity": _days(ladder.validity_days)}))
    return lines


def _expiry(programme: Programme, today: date) -> list[Text]:
    policy = programme.expiry
    if policy.policy == "never":
        return [Text("rules.expiry_never")]
    if policy.policy == "end_of_next_year":
        first = Text("rules.expiry_year_end", {"year": str(today.year),
                                               "until": date(today.year + 1, 12, 31)})
    else:
        first = Text("rules.expiry_rolling", {"count": policy.months})
    return [first, Text("rules.expiry_reminder", {"days": _days(policy.remind_days)})]


def _mid_sentence(name: LocalText) -> Local:
    """A benefit's name after a semicolon: "birthday gift", not "Birthday gift"; a name
    that starts with an acronym ("VIP lounge") or has no case (Chinese) stays as it is."""
    def lowered(words: str) -> str:
        first = words.split(" ", 1)[0]
        acronym = len(first) > 1 and (first.isupper() or first[1].isupper())
        return words if acronym else words[:1].lower() + words[1:]
    return Local({locale: lowered(words) for locale, words in name.model_dump().items()})


def _days(count: int) -> Text:
    return Text("rules.days", {"count": count})


def _listed(items: Sequence[Text | Local | date | str]) -> Any:
    """Items in one line, joined the way each language joins them ("a, b" or "a、b")."""
    if len(items) == 1:
        return items[0]
    return Text("rules.list", {"first": items[0], "rest": _listed(items[1:])})
