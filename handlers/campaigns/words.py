"""How campaigns read: the message a member receives, the operator's progress message,
the summary of a segment, of a campaign's messages and offer, and the results. Shared
by the /campaign flow, the campaign cards and by the dispatcher in bot/, which renders
what it sends through these."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from domain.campaigns import campaigns
from domain.campaigns.attribution import Group, Results
from domain.campaigns.deliveries import Progress
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign
from domain.config import LOCALES, Programme, RewardItem
from domain.rewards import coupons
from handlers.engine.i18n import negotiate, translate
from handlers.engine.render import render
from handlers.engine.types import Button, Local, Money, Rendered, Reply, Text, button
from handlers.engine.words import bar, local, multiplier, tier_name
from handlers.privacy.privacy import STOP_MARKETING

# A language as the operator reads its name: "English", "Chinese"; "英语", "中文".
LANGUAGES = {code: Text(f"campaign.language.{code}") for code in LOCALES}
PLATFORMS = {"telegram": Local({"en": "Telegram", "zh_Hans": "Telegram"}),
             "wechat": Local({"en": "WeChat", "zh_Hans": "微信"})}
SAMPLE_CODE = "ABCD-EFGH-JKMN-PQRS"
MOMENT = "%Y-%m-%d %H:%M"  # how times are shown, and how an operator types one


def example_time(zone: ZoneInfo, now: datetime) -> str:
    """A time to show as the example of one to type: this hour tomorrow, in `zone`,
    so the example is always a time that may be chosen."""
    tomorrow = (now + timedelta(days=1)).astimezone(zone)
    return tomorrow.replace(minute=0, second=0, microsecond=0).strftime(MOMENT)


def joined(values: list[Any]) -> Any:
    """Values in one line, joined the way the reader's language joins them."""
    if len(values) == 1:
        return values[0]
    return Text("campaign.comma_join", {"first": values[0], "rest": _rest(values[1:])})


# ------------------------------------------------------------------ the member's message

def offer_reply(text: str, programme: Programme, coupon_reward: str | None,
                bonus_percent: int | None, code: str | None, until: datetime | None,
                zone: ZoneInfo) -> Reply:
    """The message exactly as members get it: the operator's words, then the offer."""
    item = programme.reward(coupon_reward) if coupon_reward else None
    if item is not None and code is not None and until is not None:
        return Reply("campaign.message_coupon", {
            "body": text, "title": local(item.title), "code": code,
            "until": until.astimezone(zone).date()})
    if bonus_percent and until is not None:
        return Reply("campaign.message_bonus", {
            "body": text, "times": multiplier(100 + bonus_percent),
            "until": until.astimezone(zone).date()})
    return Reply("campaign.message", {"body": text})


def member_message(campaign: Campaign, variant: str, programme: Programme,
                   locale: str | None, code: str | None = None,
                   coupon_until: datetime | None = None,
                   recommended: RewardItem | None = None) -> Rendered:
    """The message of `variant` for a member who reads `locale`: the operator's words
    for that language (campaigns.text_for), with the offer in the same language;
    RECOMMENDED in the words becomes `recommended`'s title (the member's top pick)."""
    stored = next(v for v in campaign.variants if v["code"] == variant)
    if stored.get("survey"):  # a survey's campaign: its invitation
        return render(survey_invitation(stored), negotiate(locale) or programme.default_locale)
    text, language = campaigns.text_for(stored, negotiate(locale) or programme.default_locale,
                                        programme.default_locale)
    text = recommended_in(text, translate(local(recommended.title), language)
                          if recommended is not None else None,
                          translate(Text("recommendations.none"), language))
    until = coupon_until if campaign.coupon_reward else campaign.bonus_ends
    display = coupons.display(code) if code else None
    shown = render(offer_reply(text, programme, campaign.coupon_reward, campaign.bonus_percent,
                               display, until, programme.zone), language)
    return render(marketing(shown.text), language)


def marketing(body: str) -> Reply:
    """A marketing message as sent: how to stop them under it ("TD", the convention
    members know, typed on any platform), and the one-tap button where buttons are
    shown with a pushed message (the dispatcher drops it elsewhere)."""
    return Reply("campaign.message_marketing", {"body": body},
                 ((button("privacy.stop_marketing", STOP_MARKETING),),))


# "Recommended for you": written in a campaign's words (any language), it becomes each
# member's top reward pick (domain.insight.recommendations), worded in the message's
# language: "You might like: {recommended}". A member with no pick gets the message
# without the lines that hold it. The preview shows it as written.
RECOMMENDED = "{recommended}"


def recommends(campaign: Campaign) -> bool:
    """Whether any of the campaign's words ask for each member's top pick."""
    return any(RECOMMENDED in text for stored in campaign.variants
               for text in (stored.get("text") or "", *(stored.get("texts") or {}).values()))


def recommended_in(text: str, title: str | None, instead: str) -> str:
    """`text` with RECOMMENDED filled in by `title`; for a member with no pick, without
    the lines that hold it, unless that leaves nothing to send: then with `instead`
    (the catalogue, in the message's language) in its place."""
    if RECOMMENDED not in text:
        return text
    if title is not None:
        return text.replace(RECOMMENDED, title)
    kept = "\n".join(line for line in text.split("\n") if RECOMMENDED not in line)
    return kept.strip("\n") if kept.strip() else text.replace(RECOMMENDED, instead)


def survey_invitation(stored: dict[str, Any]) -> Reply:
    """The message of a survey's campaign: the same invitation its triggers send."""
    return Reply("survey.invite", {"title": Local(stored["survey"])})


def preview(stored: dict[str, Any], programme: Programme, coupon_reward: str | None,
            bonus_percent: int | None, until: datetime | None, locale: str) -> Reply:
    """The message of a variant (as campaigns.stored_variant keeps it) as a member who
    reads `locale` gets it (a sample code stands in for their coupon's), whatever
    language the operator reads."""
    if stored.get("survey"):
        return Reply("campaign.message", {"body": render(survey_invitation(stored),
                                                         locale).text})
    text, language = campaigns.text_for(stored, locale, programme.default_locale)
    text = text.replace(RECOMMENDED, translate(Text("recommendations.sample"), language))
    shown = render(offer_reply(text, programme, coupon_reward, bonus_percent, SAMPLE_CODE,
                               until, programme.zone), language)
    return Reply("campaign.message", {"body": render(marketing(shown.text), language).text})


# ------------------------------------------------------------------ a campaign

def when_text(zone: ZoneInfo, moment: datetime) -> str:
    return moment.astimezone(zone).strftime(MOMENT)


def offer_text(programme: Programme, coupon: str | None, bonus: int | None,
               days: int | None) -> Text:
    item = programme.reward(coupon) if coupon else None
    if item is not None:
        return Text("campaign.offer.coupon", {"title": local(item.title)})
    if bonus:
        return Text("campaign.offer.bonus", {"times": multiplier(100 + bonus), "days": days})
    return Text("campaign.offer.none")


def variant_lines(variants: list[dict], holdout: int) -> list[Text]:
    """A line per variant with its words, shortened; written per language, one
    language's words after another. One message is "Message", not "Variant A":
    there is no A/B test to name it in; its share is said only beside a holdout."""
    if len(variants) == 1 and not holdout:
        return [Text("campaign.single_line", {"text": _words(variants[0])})]
    lines = [Text("campaign.variant_line", {
        "group": (Text("campaign.group.message") if len(variants) == 1
                  else group_name(v["code"])),
        "share": share_text(v["share"]), "text": _words(v)}) for v in variants]
    if holdout:
        lines.append(Text("campaign.holdout_line", {"share": share_text(holdout)}))
    return lines


def _words(stored: dict) -> Any:
    if stored.get("survey"):
        return Text("survey.campaign_words", {"title": Local(stored["survey"])})
    texts: dict[str, str] = stored.get("texts") or {}
    if len(texts) < 2:
        return Text("campaign.quoted", {"text": _short(stored["text"], 60)})
    return Text("campaign.comma_join", {"first": _in(*next(iter(texts.items()))),
                                        "rest": _rest([_in(c, t) for c, t in
                                                       list(texts.items())[1:]])})


def _in(language: str, text: str) -> Text:
    return Text("campaign.quoted_in", {"language": LANGUAGES[language],
                                       "text": _short(text, 40)})


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def share_text(basis_points: int) -> str:
    whole, rest = divmod(basis_points, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


# ------------------------------------------------------------------ segments

def stage_name(stage: str) -> Text:
    return Text(f"campaign.stage.{stage}")


def segment_lines(segment: Segment, programme: Programme) -> list[Text]:
    """One line per filter set, or one saying everybody (who may be messaged)."""
    lines: list[Text] = []
    if segment.tiers:
        names = [tier_name(t) for t in programme.tiers.levels if t.code in segment.tiers]
        lines.append(Text("campaign.filter.tier", {"values": joined(names)}))
    if segment.tags:
        lines.append(Text("campaign.filter.tags", {"values": ", ".join(segment.tags)}))
    if segment.locales:
        lines.append(Text("campaign.filter.locale", {
            "values": joined([LANGUAGES[c] for c in segment.locales])}))
    if segment.platforms:
        lines.append(Text("campaign.filter.platform", {
            "values": joined([PLATFORMS[p] for p in segment.platforms])}))
    if segment.stages:
        lines.append(Text("campaign.filter.stage", {
            "values": joined([stage_name(s) for s in segment.stages])}))
    if segment.purchase is not None:
        kind, days = segment.purchase
        lines.append(Text(f"campaign.filter.purchase_{kind}", {"days": days}))
    if segment.points_min is not None or segment.points_max is not None:
        if segment.points_max is None:
            lines.append(Text("campaign.filter.points_min", {"min": segment.points_min}))
        elif segment.points_min is None:
            lines.append(Text("campaign.filter.points_max", {"max": segment.points_max}))
        else:
            lines.append(Text("campaign.filter.points_range", {
                "min": segment.points_min, "max": segment.points_max}))
    if segment.birth_months:
        lines.append(Text("campaign.filter.months", {
            "values": ", ".join(str(m) for m in sorted(segment.birth_months))}))
    if segment.rfm:
        lines.append(Text("campaign.filter.rfm", {
            "values": joined([Text(f"rfm.{code}") for code in segment.rfm])}))
    if segment.risk_min is not None:
        lines.append(Text("campaign.filter.risk", {"min": segment.risk_min}))
    return lines or [Text("campaign.filter.everyone")]


def _rest(values: list[Any]) -> Any:
    if not values:
        return ""
    return Text("campaign.comma_more", {"item": values[0], "rest": _rest(values[1:])})


# ------------------------------------------------------------------ progress

def eta_text(progress: Progress, eta_seconds: int | None, status: str) -> Text:
    if status in ("done", "cancelled"):
        return Text(f"campaign.eta.{status}")
    if status == "paused":
        return Text("campaign.eta.paused")
    if not progress.remaining:
        return Text("campaign.eta.finishing")
    if eta_seconds is None:
        return Text("campaign.eta.unknown")
    if eta_seconds < 60:
        return Text("campaign.eta.under_minute")
    return Text("campaign.eta.minutes", {"count": -(-eta_seconds // 60)})


def progress_reply(campaign: Campaign, progress: Progress, eta_seconds: int | None,
                   edit: bool = False, buttons: bool = True) -> Reply:
    """`buttons`: False where the campaign's card follows with the same controls, so
    they are offered once."""
    return Reply("campaign.progress", {
        "number": str(campaign.id), "status": Text(f"campaign.status.{campaign.status}"),
        "bar": bar(progress.percent), "percent": progress.percent, "total": progress.total,
        "sent": progress.sent, "failed": progress.failed, "unreachable": progress.unreachable,
        "remaining": progress.remaining, "held_out": progress.held_out,
        "eta": eta_text(progress, eta_seconds, campaign.status)},
        controls(campaign) if buttons else (), edit=edit)


def progress_message(campaign: Campaign, progress: Progress, eta_seconds: int | None,
                     edit: bool) -> Rendered:
    return render(progress_reply(campaign, progress, eta_seconds, edit=edit),
                  campaign.operator_locale)


def controls(campaign: Campaign) -> tuple[tuple[Button, ...], ...]:
    n = campaign.id
    rows: list[tuple[Button, ...]] = []
    if campaign.status in ("scheduled", "starting", "running"):
        rows.append((button("campaign.pause", f"camp:pause:{n}"),
                     button("campaign.cancel", f"camp:cancel:{n}")))
    elif campaign.status == "paused":
        rows.append((button("campaign.resume", f"camp:resume:{n}"),
                     button("campaign.cancel", f"camp:cancel:{n}")))
    if campaign.started_at is not None:
        rows.append((button("campaign.results_button", f"camp:results:{n}"),))
    return tuple(rows)


# ------------------------------------------------------------------ results

def rate(part: int, whole: int) -> Fraction:
    return Fraction(part, whole) if whole else Fraction(0)


def percent_text(value: Fraction, signed: bool = False) -> str:
    """An exact fraction as a percentage with one decimal, rounded half away from zero."""
    tenths = abs(value) * 1000
    rounded = int(tenths) + (1 if tenths - int(tenths) >= Fraction(1, 2) else 0)
    sign = "-" if value < 0 and rounded else ("+" if signed else "")
    return f"{sign}{rounded // 10}.{rounded % 10}"


def group_name(variant: str, single: bool = False) -> Text:
    """"Variant A" in an A/B test; the one message's recipients otherwise."""
    if variant == "holdout":
        return Text("campaign.group.holdout")
    if single:
        return Text("campaign.group.single")
    return Text("campaign.group.variant", {"variant": variant})


def results_reply(campaign: Campaign, results: Results, currency: str,
                  zone: ZoneInfo) -> Reply:
    if not results.groups:
        return Reply("campaign.results_none", {"number": str(campaign.id)})
    holdout = results.group("holdout")
    single = len(campaign.variants) == 1
    lines = [_result_line(g, holdout, currency, single) for g in results.groups]
    assert results.window_start is not None and results.window_end is not None
    return Reply("campaign.results", {
        "number": str(campaign.id), "lines": lines, "days": campaign.attribution_days,
        "start": when_text(zone, results.window_start),
        "end": when_text(zone, results.window_end)},
        ((button("campaign.show_button", f"camp:show:{campaign.id}"),),))


def _result_line(group: Group, holdout: Group | None, currency: str, single: bool) -> Text:
    conversion = rate(group.buyers, group.members)
    params: dict[str, Any] = {
        "group": group_name(group.variant, single), "members": group.members,
        "delivered": group.delivered, "coupons": group.coupons_used, "buyers": group.buyers,
        "rate": percent_text(conversion), "orders": group.orders,
        "spend": Money(group.spend, currency), "uplift": ""}
    if holdout is not None and group.variant != "holdout" and holdout.members:
        base = rate(holdout.buyers, holdout.members)
        if base:
            params["uplift"] = Text("campaign.uplift", {
                "points": percent_text(conversion - base, signed=True),
                "relative": percent_text(conversion / base - 1, signed=True)})
        else:
            params["uplift"] = Text("campaign.uplift_points", {
                "points": percent_text(conversion - base, signed=True)})
    return Text("campaign.results_line", params)
