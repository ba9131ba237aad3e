"""/survey list|send|results for staff: which surveys there are, one sent to one member
now (a follow-up, 回访) or to a segment (the /campaign flow: `send CODE` alone), and
what the answers say (survey_results). The member is told
by a notice, in their language and within their platform's rules (quiet hours,
WeChat's window), and answers with /survey. A survey already waiting for the member
is not sent again: they are reminded (domain.feedback.follow_ups), and staff are told
which it was."""

from __future__ import annotations

from domain.feedback import follow_ups, responses, results, surveys
from domain.feedback.follow_ups import FollowUp
from domain.feedback.responses import SurveyRefused
from domain.members import members
from domain.members.tables import Member
from domain.staff import audit
from domain.staff.roles import PERMISSIONS, ROLES
from handlers.campaigns import control as campaign_control
from handlers.campaigns import flow as campaign_flow
from handlers.engine.routing import Ctx, Outcome
from handlers.engine.types import Reply, Text, reply
from handlers.engine.words import local
from handlers.feedback import survey_charts, survey_export, survey_new, survey_results
from handlers.staff.roles import denied, member_arg

PERMISSION = "survey"
VERBS = ("list", "send", "results", "chart", "export", "new", "close")
# The staff lines of /help: (catalog key, what is typed, the permission its step checks).
HELP = (("command.survey.list", "/survey list", PERMISSION),
        ("command.survey.send", "/survey send", PERMISSION),
        ("command.survey.results", "/survey results", PERMISSION),
        ("command.survey.chart", "/survey chart", PERMISSION),
        ("command.survey.export", "/survey export", PERMISSION),
        ("command.survey.send_segment", "/survey send", campaign_control.PERMISSION),
        ("command.survey.new", "/survey new", survey_new.PERMISSION),
        ("command.survey.close", "/survey close", survey_new.PERMISSION))


def least_role(permission: str) -> str:
    """The lowest role a permission is given to (ROLES run from the highest)."""
    return max(PERMISSIONS[permission], key=ROLES.index)


# /survey is survey.py's command, whose router includes the builder's: the lines ride
# on that one.
for _key, _typed, _permission in HELP:
    survey_new.router.staff_line(_key, _typed, least_role(_permission))


async def staff(ctx: Ctx, verb: str, rest: list[str]) -> Outcome:
    if verb == "new":  # operators and up: they check their own permission
        return await survey_new.begin(ctx)
    if verb == "close":
        return await survey_new.close(ctx, rest)
    refusal = await denied(ctx, PERMISSION, command=f"/survey {verb}")
    if refusal is not None:
        return refusal
    if verb == "list":
        return Outcome([await listing(ctx)])
    if verb == "results":
        return await survey_results.show(ctx, rest)
    if verb == "chart":
        return await survey_charts.show(ctx, rest)
    if verb == "export":
        return await survey_export.show(ctx, rest)
    return await send(ctx, rest)


async def listing(ctx: Ctx) -> Reply:
    found = await surveys.listing(ctx.uow)
    if not found:
        return reply("survey.list_empty")
    counts = await results.tallies(ctx.uow)
    lines = []
    for s in found:
        definition = surveys.definition(s)
        sent, completed = counts.get(s.id, (0, 0))
        lines.append(Text("survey.list_line", {
            "code": s.code, "title": local(definition.title),
            "count": len(definition.questions), "sent": sent, "completed": completed,
            "closed": Text("survey.list_closed") if s.closed else ""}))
    return reply("survey.list", lines=lines)


async def send(ctx: Ctx, rest: list[str]) -> Outcome:
    if len(rest) not in (1, 2):
        return Outcome([reply("survey.send_usage")])
    code = rest[0].lower()
    survey = await surveys.by_code(ctx.uow, code) if code.isascii() else None
    if survey is None:
        return Outcome([reply("survey.unknown", code=rest[0][:32])])
    if len(rest) == 1:  # to a segment: the campaign flow, its message the invitation
        definition = surveys.definition(survey)
        if responses.is_closed(survey, definition, ctx.programme, ctx.now):
            return Outcome([reply("survey.send_refused.closed")])
        return await campaign_flow.begin_survey(ctx, survey.id, survey.code,
                                                definition.title.model_dump())
    number = member_arg(rest[1].lstrip("#"))
    member = await ctx.uow.session.get(Member, number) if number is not None else None
    if member is None or member.status == "erased":
        return Outcome([reply("survey.no_member", number=rest[1][:20])])
    shown = members.member_number(member.id)
    try:
        done = await follow_ups.send(ctx.uow, ctx.programme, survey, member.id, ctx.now)
    except SurveyRefused as refused:
        return Outcome([reply(f"survey.send_refused.{refused.code}", number=shown)])
    if done.outcome in (follow_ups.SENT, follow_ups.REMINDED):
        action = "survey.send" if done.outcome == follow_ups.SENT else "survey.remind"
        await audit.record(ctx.uow, audit.member_actor(ctx.member.id), action, survey.code,
                           {"member": shown}, ctx.now)
    if not done.waiting:
        return Outcome([reply("survey.sent", code=survey.code, number=shown)])
    return Outcome([_waiting(ctx, done, survey.code, shown)])


def _waiting(ctx: Ctx, done: FollowUp, code: str, number: str) -> Reply:
    """The survey was waiting for them already: since when, how far they got, and
    whether they were reminded now."""
    progress = done.progress
    answered, asked = progress.position[0] - 1, progress.position[1]
    where = Text("survey.waiting_untouched") if not answered else Text(
        "survey.waiting_answered", {"answered": answered, "total": asked})
    return reply(f"survey.waiting.{done.outcome}", code=code, number=number,
                 sent=ctx.local(progress.response.sent_at).date(), progress=where)
