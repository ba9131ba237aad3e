"""/tag NUMBER [tag ...] [-tag ...]: an operator labels members for campaign segments.
`/tag 00000042` lists the member's tags; `vip` adds one, `-vip` takes it away, and a
quoted `"tea lover"` (or “tea lover”) is one tag with a space. `#vip` is `vip` (a
hashtag's mark is dropped, and the reply says so); a tag to take away that the member
did not have is named. Every change is in the audit log."""

from __future__ import annotations

from domain.members import tags
from domain.members.tables import Member
from domain.members.tags import TagRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, reply
from handlers.engine.words import number
from handlers.staff.roles import denied, member_arg

router = Router()


@router.command("tag", role="operator")
async def tag(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "campaign")
    if refusal is not None:
        return refusal
    try:
        parts = tags.split(ctx.arg)
    except TagRefused as refused:
        return Outcome([_refused(refused)])
    target = member_arg(parts[0]) if parts else None
    if target is None:
        return Outcome([reply("tag.usage")])
    found = await ctx.uow.session.get(Member, target)
    if found is None or found.status == "erased":
        return Outcome([reply("tag.unknown_member", number=number(target))])
    words = parts[1:]
    try:
        typed = [w for w in words if not w.startswith("-")]
        adding = tags.parse(typed)
        removing = tags.parse(w[1:] for w in words if w.startswith("-"))
        added = await tags.add(ctx.uow, target, adding, ctx.now)
    except TagRefused as refused:
        return Outcome([_refused(refused)])
    actor = audit.member_actor(ctx.member.id)
    removed = await tags.remove(ctx.uow, target, removing)
    for action, changed in (("tag.add", added), ("tag.remove", removed)):
        if changed:
            await audit.record(ctx.uow, actor, action, audit.member_actor(target),
                               {"tags": changed}, ctx.now)
    held = await tags.of_member(ctx.uow, target)
    shown = ", ".join(held) if held else Text("tag.none")
    listed = Text("tag.list", {"number": number(target), "tags": shown})
    notes = [Text("tag.hashtag", {"typed": w, "tag": tags.normalize(w)})
             for w in dict.fromkeys(w.strip() for w in typed) if w and tags.hashtag(w)]
    notes += [Text("tag.not_held", {"tag": t, "number": number(target)})
              for t in removing if t not in removed]
    if not notes:
        return Outcome([reply("tag.list", **listed.params)])
    return Outcome([reply("tag.noted", listed=listed, notes=notes)])


def _refused(refused: TagRefused) -> Reply:
    """Why a word is no tag, then nothing was changed (the whole line is refused)."""
    return reply("tag.refused", why=Text(f"tag.{refused.code}", refused.params))
