"""/jobs: the scheduled jobs, their next and last runs, and pause / resume / run now.

`/jobs` lists every job with a button each; a job's page offers Run now and Pause or
Resume. The same by command: `/jobs NAME`, `/jobs pause|resume|run NAME`. The state
lives in the database, so this works on any worker; the scheduling process picks a
change up within seconds. Operators and up only, checked on every command and every
button; every change is audited (domain/staff/jobs.py). Flow: handlers/staff/jobs.mmd.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.lifecycle import winback
from domain.staff import audit, jobs
from domain.staff.jobs import JobRefused
from domain.staff.tables import JobState
from handlers.engine import i18n
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, button, reply
from handlers.engine.words import clock
from handlers.staff import audit as audit_words
from handlers.staff.roles import denied

router = Router()
# What each job's counts are called in its result line (jobs.result.NAME).
RESULT_FIELDS = {
    "birthdays": ("given",),
    "winback": ("offered", "returned", "won_back"),
    "expiry": ("members", "points"),
    "expiry_reminders": ("reminded",),
    "tier_review": ("reviewed", "downgraded", "in_grace", "renewed", "upgraded"),
    "campaigns": ("started",),
    "community": ("judged", "lapsed"),
    "support": ("reminded", "replies_waiting"),
    "rollups": ("rows", "spans", "campaigns"),
    "standing": ("members",),
    "scores": ("members", "buyers"),
    "report": ("readers", "queued"),
    "surveys": ("invited",),
    "erasure": ("erased", "points"),
    "retention": ("warned", "returned", "erased", "points", "waiting", "at_stake"),
    "membership": ("lapsed",),
    "backup": ("taken", "kilobytes", "pruned", "kept"),
}
VERBS = ("pause", "resume", "run")


@router.command("jobs", role="operator")
async def jobs_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "jobs")
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    if not parts:
        return Outcome([await _listing(ctx)])
    named = _named(" ".join(parts))
    if named is not None:
        return Outcome([await _page(ctx, named)])
    if len(parts) >= 2 and parts[0].lower() in VERBS:
        typed = " ".join(parts[1:])
        return await _act(ctx, parts[0].lower(), _named(typed) or typed)
    return Outcome([_usage()])


@router.action("jobs:list")
async def list_button(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "jobs")
    if refusal is not None:
        return refusal
    return Outcome([await _listing(ctx, edit=True)])


@router.action("jobs:show")
async def show_button(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "jobs")
    if refusal is not None:
        return refusal
    name = (ctx.action or "").split(":")[-1]
    if name not in jobs.NAMES:
        return Outcome([reply("error.button_expired")])
    return Outcome([await _page(ctx, name, edit=True)])


@router.action("jobs:do")
async def act_button(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "jobs")
    if refusal is not None:
        return refusal
    parts = (ctx.action or "").split(":")
    if len(parts) != 4 or parts[2] not in VERBS or parts[3] not in jobs.NAMES:
        return Outcome([reply("error.button_expired")])
    return await _act(ctx, parts[2], parts[3])


async def _act(ctx: Ctx, verb: str, name: str) -> Outcome:
    actor = audit.member_actor(ctx.member.id)
    try:
        if verb == "run":
            changed = await jobs.request_run(ctx.uow, name, actor, ctx.now)
        else:
            changed = await jobs.set_paused(ctx.uow, name, verb == "pause", actor, ctx.now)
    except JobRefused:
        return Outcome([reply("jobs.unknown", name=name[:32], names=_names())])
    key = f"jobs.{verb}_done" if changed else f"jobs.{verb}_already"
    # The page below says whether a scheduler is there to pick the change up.
    return Outcome([reply(key, job=_title(name)), await _page(ctx, name)])


def _usage() -> Reply:
    return reply("jobs.usage", names=_names())


def _names() -> Any:
    """Every job as it may be typed: by the name /jobs shows, and by its code
    ("Birthday gifts (birthdays)", "生日礼物（birthdays）")."""
    named = [Text("jobs.named", {"name": _title(name), "code": name}) for name in jobs.NAMES]
    out: Any = named[-1]
    for one in reversed(named[:-1]):
        out = Text("rules.list", {"first": one, "rest": out})
    return out


def _named(typed: str) -> str | None:
    """The job typed by its code or by its name in either language, any case."""
    wanted = " ".join(typed.split()).casefold()
    for name in jobs.NAMES:
        shown = {" ".join(i18n.translate(_title(name), locale).split()).casefold()
                 for locale in i18n.LOCALES}
        if wanted == name or wanted in shown:
            return name
    return None


def _title(name: str) -> Text:
    return Text(f"jobs.name.{name}")


def _when(ctx: Ctx, moment: datetime | None) -> Text | str:
    """In the programme's zone, the scheduler's, whoever asks; the screen names it."""
    if moment is None:
        return Text("jobs.never")
    return clock(moment, ctx.programme.zone)


def _zone(ctx: Ctx) -> Text | str:
    return audit_words.zone(ctx)  # "Asia/Shanghai, UTC+8", with each language's comma


async def _runner_lines(ctx: Ctx, requested: datetime | None = None) -> list[Text]:
    """Who runs the jobs, and when a requested run starts: within seconds with a
    scheduler; without one, a single line says it is kept until one starts."""
    found = await jobs.runner(ctx.uow)
    if found is None or not found.alive(ctx.now):
        if requested is not None:
            return [Text("jobs.requested_no_runner", {"when": _when(ctx, requested)})]
        return [Text("jobs.no_runner")]
    lines = [Text("jobs.runner", {"holder": found.holder, "seen": _when(ctx, found.seen_at)})]
    if requested is not None:
        lines.append(Text("jobs.requested", {"when": _when(ctx, requested)}))
    return lines


def _last(ctx: Ctx, job: JobState) -> Text:
    if job.last_started_at is None:
        return Text("jobs.last_never")
    outcome = job.last_outcome or "running"
    if outcome == "ok":
        counts = job.last_result or {}
        detail = Text(f"jobs.result.{job.name}",
                      {f: int(counts.get(f, 0)) for f in RESULT_FIELDS[job.name]})
    else:
        detail = Text("jobs.error", {"error": job.last_error or "-"})
    return Text("jobs.last", {"when": _when(ctx, job.last_started_at),
                              "outcome": Text(f"jobs.outcome.{outcome}"), "detail": detail})


async def _listing(ctx: Ctx, edit: bool = False) -> Reply:
    states = await jobs.states(ctx.uow, ctx.now)
    lines = [Text("jobs.line", {
        "job": _title(s.name),
        "next": Text("jobs.paused") if s.paused else _when(ctx, s.next_run_at),
        "last": _last(ctx, s)}) for s in states]
    buttons = [button(f"jobs.name.{s.name}", f"jobs:show:{s.name}") for s in states]
    rows = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
    return Reply("jobs.list", {"runner": await _runner_lines(ctx), "lines": lines,
                               "zone": _zone(ctx)},
                 tuple(rows), edit=edit)


async def _page(ctx: Ctx, name: str, edit: bool = False) -> Reply:
    job = next(s for s in await jobs.states(ctx.uow, ctx.now) if s.name == name)
    toggle = (button("jobs.resume", f"jobs:do:resume:{name}") if job.paused
              else button("jobs.pause", f"jobs:do:pause:{name}"))
    extra: list[Text] = []  # after the scheduler's line (and a requested run's)
    if name == "winback":
        so_far = await winback.results(ctx.uow)
        extra.append(Text("jobs.winback_results", {
            "coupons": so_far.coupons, "returned": so_far.returned,
            "won_back": so_far.won_back}))
    return Reply("jobs.page", {
        "job": _title(name), "about": Text(f"jobs.about.{name}"),
        "status": Text("jobs.status_paused" if job.paused else "jobs.status_active"),
        "next": Text("jobs.paused") if job.paused else _when(ctx, job.next_run_at),
        "last": _last(ctx, job),
        "details": [*await _runner_lines(ctx, job.run_requested_at), *extra],
        "zone": _zone(ctx)},
        ((button("jobs.run", f"jobs:do:run:{name}"), toggle),
         (button("jobs.back", "jobs:list"),)), edit=edit)
