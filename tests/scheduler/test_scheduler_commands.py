"""/jobs in chat: operators and up see the jobs and pause, resume or run them, by command
or button, in English and Chinese; everyone else is refused on every command and
button, forged buttons change nothing, and every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from domain.staff import jobs, roles
from domain.staff.tables import AuditEntry, JobState
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def make(db, programme, who: str, role: str | None) -> None:
    """`who` exists with `role` (granted by an owner, "boss")."""
    async with db.uow() as uow:
        boss = await roles.set_owner(uow, programme, "console:boss", T0)
        if role is not None and role != "owner":
            from domain.members import members
            target = (await members.register(uow, programme, "console", who, T0)).member
            await roles.grant(uow, boss, role, target.id, T0)
        await uow.commit()


async def job_rows(db) -> dict[str, JobState]:
    async with db.uow() as uow:
        rows = {j.name: j for j in await uow.session.scalars(select(JobState))}
        uow.session.expunge_all()
        return rows


async def audited(db, action: str) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == action))


@pytest.mark.parametrize(("role", "locale", "refusal"), [
    (None, "en", "Sorry, /jobs is for the owner, admins and operators."),
    (None, "zh_Hans", "抱歉，/jobs 仅限店主、管理员和运营人员使用。"),
    ("staff", "en", "Sorry, /jobs is for the owner, admins and operators."),
    ("moderator", "zh_Hans", "抱歉，/jobs 仅限店主、管理员和运营人员使用。"),
])
async def test_below_operator_every_command_and_button_is_refused(db, programme, clock, role,
                                                                   locale, refusal):
    await make(db, programme, "ann", role)
    ann = member(db, programme, clock, user="ann", locale=locale)
    for line in ("/jobs", "/jobs birthdays", "/jobs pause birthdays", "/jobs run expiry"):
        assert refusal in await ann.say(line)
    for action in ("jobs:list", "jobs:show:birthdays", "jobs:do:run:expiry",
                   "jobs:do:pause:winback"):
        assert refusal in await ann.press(action)
    assert await job_rows(db) == {}
    assert await audited(db, "job.run") == await audited(db, "job.pause") == 0


async def test_an_operator_sees_pauses_resumes_and_runs_jobs_en(db, programme, clock):
    await make(db, programme, "olga", "operator")
    olga = member(db, programme, clock, user="olga")
    out = await olga.say("/jobs")
    assert out.startswith("Scheduled jobs (times in Asia/Shanghai, UTC+8)\n"
                          "No scheduler is running right now")
    assert "• Birthday gifts — next: not scheduled yet\n   last: not run yet" in out
    assert "[1] Birthday gifts  [2] Win-back coupons  [3] Points expiry" in out
    out = await olga.say("1")
    assert out.startswith("Birthday gifts\nEvery hour:")
    assert "Status: active" in out and "[1] Run now  [2] Pause  [3] « All jobs" in out
    assert "Times in Asia/Shanghai, UTC+8." in out
    out = await olga.say("2")
    assert "Birthday gifts is paused." in out and "Status: paused" in out
    assert "[1] Run now  [2] Resume" in out
    assert "Birthday gifts was already paused." in await olga.say("/jobs pause birthdays")
    assert "Birthday gifts runs on schedule again." in await olga.say("/jobs resume birthdays")
    out = await olga.say("/jobs run tier_review")
    assert "Tier review: a run is requested." in out
    # No scheduler runs: one line says the run is kept until one starts, nothing more.
    assert ("No scheduler is running right now. The run requested at 2026-03-10 17:30 is "
            "kept, and starts when one does (memberbot run or memberbot scheduler).") in out
    assert "within seconds" not in out and out.count("No scheduler") == 1
    assert "a run is already requested" in await olga.press("jobs:do:run:tier_review")
    rows = await job_rows(db)
    assert rows["birthdays"].paused is False
    assert rows["tier_review"].run_requested_at == T0
    assert rows["tier_review"].requested_by == "member:00000002"
    assert (await audited(db, "job.pause"), await audited(db, "job.resume"),
            await audited(db, "job.run")) == (1, 1, 1)
    out = await olga.say("/audit")  # an operator does not read the audit log; owners do
    assert "Sorry, /audit is for the owner and admins." in out


async def test_what_the_scheduler_wrote_shows_in_chinese(db, programme, clock):
    await make(db, programme, "boss", "owner")
    async with db.uow() as uow:
        await jobs.ensure(uow, jobs.NAMES, T0)
        await jobs.beat(uow, "worker-a:4242", T0 - timedelta(hours=1), T0 - timedelta(seconds=20))
        await uow.session.execute(update(JobState).where(JobState.name == "birthdays").values(
            last_started_at=T0 - timedelta(minutes=25), last_outcome="ok",
            last_result={"given": 3}, next_run_at=T0 + timedelta(minutes=35)))
        await uow.session.execute(update(JobState).where(JobState.name == "campaigns").values(
            last_started_at=T0, last_outcome="failed", last_error="RuntimeError: boom"))
        await uow.commit()
    boss = member(db, programme, clock, user="boss", locale="zh_Hans")
    out = await boss.say("/jobs")
    assert out.startswith("定时任务（时区：Asia/Shanghai，UTC+8）\n"
                          "调度进程：worker-a:4242，最近一次心跳 2026-03-10 17:29。")
    assert ("• 生日礼物 — 下次：2026-03-10 18:05\n"
            "   上次：2026-03-10 17:05，完成：已发放礼物：3") in out
    assert "活动启动 — 下次：尚未排期\n   上次：2026-03-10 17:30，失败：RuntimeError: boom" in out
    out = await boss.say("/jobs winback")
    assert "挽回优惠券" in out and "累计：发放挽回券 0 张" in out
    assert "状态：正常" in out and "[1] 立即运行  [2] 暂停" in out


async def test_a_requested_run_says_when_it_starts_with_and_without_a_scheduler(db, programme,
                                                                                 clock):
    await make(db, programme, "boss", "owner")
    boss = member(db, programme, clock, user="boss", locale="zh_Hans")
    out = await boss.say("/jobs run expiry")
    assert ("当前没有运行中的调度进程。2026-03-10 17:30 请求的运行已记下，启动 memberbot run 或 "
            "memberbot scheduler 后开始执行。") in out
    assert "几秒内开始" not in out and out.count("调度进程") == 1
    async with db.uow() as uow:  # a scheduler is alive now
        await jobs.beat(uow, "worker-a:4242", T0 - timedelta(hours=1), T0 - timedelta(seconds=20))
        await uow.commit()
    out = await boss.say("/jobs expiry")
    assert "调度进程：worker-a:4242，最近一次心跳 2026-03-10 17:29。" in out
    assert "已于 2026-03-10 17:30 请求运行，几秒内开始。" in out and "没有运行中" not in out


async def test_bad_arguments_and_forged_buttons_change_nothing(db, programme, clock):
    await make(db, programme, "olga", "operator")
    olga = member(db, programme, clock, user="olga")
    assert ("There is no job called nope. Jobs: Birthday gifts (birthdays), Win-back coupons "
            "(winback)") in await olga.say(
        "/jobs run nope")
    assert "Usage: /jobs" in await olga.say("/jobs fly to the moon")
    assert "Usage: /jobs" in await olga.say("/jobs " + "x" * 3000)
    for forged in ("jobs:do:explode:birthdays", "jobs:do:run:../../etc", "jobs:show:nope",
                   "jobs:do:run"):
        assert "This button has expired." in await olga.press(forged)
    assert await job_rows(db) == {}


async def test_a_revoked_operator_is_refused_at_the_next_button(db, programme, clock):
    await make(db, programme, "olga", "operator")
    olga = member(db, programme, clock, user="olga")
    assert "Scheduled jobs" in await olga.say("/jobs")
    async with db.uow() as uow:
        await roles.revoke(uow, 1, "operator", 2, T0)
        await uow.commit()
    assert "/jobs is for the owner, admins and operators." in await olga.say("1")
    assert await job_rows(db) == {}


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_every_job_has_its_name_description_and_result_in_both_languages(locale):
    """A job's page says what it is, what it does and what its last run did: keys made
    from the job's name, so a job added without its words shows the raw key."""
    from handlers.engine import i18n
    from handlers.engine.types import Text
    from handlers.staff.jobs import RESULT_FIELDS
    from scheduler.registry import JOBS

    for job in JOBS:
        for kind in ("name", "about", "result"):
            assert i18n.has(f"jobs.{kind}.{job.name}", locale), (kind, job.name, locale)
        said = i18n.translate(Text(f"jobs.result.{job.name}",
                                   dict.fromkeys(RESULT_FIELDS[job.name], 987)), locale)
        assert said.count("987") == len(RESULT_FIELDS[job.name]), said


async def test_the_survey_jobs_last_run_shows_how_many_were_invited(db, programme, clock):
    from scheduler.registry import JOBS

    await make(db, programme, "boss", "owner")
    surveys = next(j for j in JOBS if j.name == "surveys")
    done = await surveys.run(db, programme, T0)
    assert done["invited"] == sum(v for k, v in done.items() if k != "invited")
    async with db.uow() as uow:
        await jobs.ensure(uow, jobs.NAMES, T0)
        await jobs.started(uow, "surveys", "test", T0)
        await jobs.finished(uow, "surveys", "ok", done, None, None, T0)
        await uow.commit()
    boss = member(db, programme, clock, user="boss")
    out = await boss.say("/jobs surveys")
    assert "Survey invitations" in out and "members invited: 0" in out
