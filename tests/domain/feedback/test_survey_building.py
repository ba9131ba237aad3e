"""domain.feedback.building: a survey made in chat is checked by SurveyDef and what
only the programme and the table know, written once per key, audited; closing one;
and the programme file (keep_from_file) never touches a survey made in chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.feedback import building, surveys
from domain.feedback.building import BuildRefused
from domain.feedback.definitions import MOST_CHOICES, MOST_QUESTIONS
from domain.feedback.tables import Survey
from domain.staff.tables import AuditEntry

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10 March in Shanghai, the programme's zone


def words(text: str) -> dict[str, str]:
    return {"en": text, "zh_Hans": text}


def rating(code: str = "q1", **more: Any) -> dict[str, Any]:
    return {"code": code, "kind": "rating", "text": words("How was it?"), **more}


def draft(**changes: Any) -> dict[str, Any]:
    base = {"code": "spring", "title": words("Spring"), "intro": words("Tell us."),
            "questions": [rating()], "reward_points": 20}
    return {**base, **changes}


async def create(db, programme, data: dict, key: str = "chat:1:abc") -> building.Built:
    async with db.uow() as uow:
        built = await building.create(uow, programme, data, 1, key, T0)
        await uow.commit()
        return built


async def rows(db) -> list[tuple[str, str, bool]]:
    async with db.uow() as uow:
        return [(s.code, s.source, s.closed) for s in await surveys.listing(uow)]


async def audits(db, action: str) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                        .where(AuditEntry.action == action))


async def test_a_survey_is_written_from_chat_and_audited(db, programme):
    built = await create(db, programme, draft())
    assert not built.duplicate
    assert await rows(db) == [("spring", "chat", False)]
    async with db.uow() as uow:
        survey = await surveys.by_code(uow, "spring")
        assert surveys.definition(survey).reward_points == 20
        assert survey.created_by == "member:00000001"
        entry = await uow.session.scalar(select(AuditEntry))
        assert (entry.action, entry.target, entry.params["key"]) == (
            "survey.create", "spring", "chat:1:abc")


async def test_the_same_key_twice_makes_one_survey_and_another_key_is_refused(db, programme):
    await create(db, programme, draft())
    again = await create(db, programme, draft())
    assert again.duplicate and again.survey.code == "spring"
    with pytest.raises(BuildRefused) as refused:
        await create(db, programme, draft(), key="chat:1:other")
    assert refused.value.code == "code_taken"
    assert await rows(db) == [("spring", "chat", False)]
    assert await audits(db, "survey.create") == 1


@pytest.mark.parametrize(("change", "code"), [
    ({"code": "nps"}, "code_taken"),  # the programme file's
    ({"code": "Spring"}, "invalid"),
    ({"code": "spring tea"}, "invalid"),
    ({"reward": "no_such_reward"}, "reward"),
    ({"closes": "2026-03-09"}, "closes"),
    ({"trigger": {"on_lapse": True}}, "trigger"),
    ({"questions": [rating(f"q{i}") for i in range(MOST_QUESTIONS + 1)]}, "invalid"),
    ({"questions": []}, "invalid"),
    ({"questions": [{"code": "q1", "kind": "single", "text": words("Which?"),
                     "choices": [{"code": f"c{i}", "label": words(f"C{i}")}
                                 for i in range(MOST_CHOICES + 1)]}]}, "invalid"),
    ({"questions": [rating(), rating("q2", show_if={"question": "q9", "at_most": 3})]},
     "invalid"),  # a show-if that points nowhere
    ({"questions": [rating(), rating("q2", show_if={"question": "q1", "any_of": ["c1"]})]},
     "invalid"),  # choices of a rating
    ({"title": {"en": "x" * 601, "zh_Hans": "x"}}, "invalid"),
    ({"title": {"en": "Spring"}}, "invalid"),  # a language missing
])
async def test_a_draft_that_does_not_hold_is_refused(db, programme, change, code):
    with pytest.raises(BuildRefused) as refused:
        await create(db, programme, draft(**change))
    assert refused.value.code == code
    assert await rows(db) == []
    assert await audits(db, "survey.create") == 0


async def test_today_is_a_valid_close_date(db, programme):
    built = await create(db, programme, draft(closes="2026-03-10"))
    assert str(surveys.definition(built.survey).closes) == "2026-03-10"


async def test_the_programme_file_leaves_chat_surveys_alone(db, programme):
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    await create(db, programme, draft())
    async with db.uow() as uow:
        await building.close(uow, "spring", 1, T0)
        # A chat survey whose code the file came to list later (made before the file
        # had it): the file's version does not replace it.
        uow.session.add(Survey(code="later", source="chat", definition=draft(code="later"),
                               closed=False, created_by="member:00000001", created_at=T0,
                               updated_at=T0))
        await uow.commit()
    listed = programme.surveys[0]
    in_file = programme.model_copy(update={"surveys": (
        *programme.surveys, listed.model_copy(update={"code": "later"}))})
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, in_file, T0)
        await uow.commit()
    async with db.uow() as uow:
        spring = await surveys.by_code(uow, "spring")
        later = await surveys.by_code(uow, "later")
        assert spring.closed and spring.source == "chat"  # not reopened, not dropped
        assert surveys.definition(spring).reward_points == 20
        assert later.source == "chat" and later.definition == draft(code="later")
    # Dropped from the file: only the file's own surveys close.
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme.model_copy(update={"surveys": ()}), T0)
        await uow.commit()
    assert {(c, s, closed) for c, s, closed in await rows(db) if s == "chat"} == {
        ("later", "chat", False), ("spring", "chat", True)}


async def test_close_once_and_a_file_survey_stays_closed_at_the_next_start(db, programme):
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    async with db.uow() as uow:
        closed, stopped = await building.close(uow, "nps", 1, T0)
        await uow.commit()
        assert closed.closed and closed.source == "file" and closed.closed_by == "staff"
        assert (stopped.campaigns, stopped.invitations) == (0, 0)  # none were waiting
    async with db.uow() as uow:
        for code, why in (("nps", "already_closed"), ("nope", "unknown")):
            with pytest.raises(BuildRefused) as refused:
                await building.close(uow, code, 1, T0)
            assert refused.value.code == why
    assert await audits(db, "survey.close") == 1
    async with db.uow() as uow:  # the same file: staff's close holds
        assert await surveys.keep_from_file(uow, programme, T0) == 0
        await uow.commit()
    assert ("nps", "file", True) in await rows(db)
