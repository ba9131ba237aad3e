"""Roles: the owner comes from the settings, the rest are granted down the ladder, and
every grant and revoke is in the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import lifespan
from bot.settings import Settings
from domain.members import members
from domain.members.tables import Identity
from domain.staff import audit, roles
from domain.staff.roles import RoleRefused
from domain.staff.tables import AuditEntry


async def join(db, programme, now, user) -> int:
    async with db.uow() as uow:
        member_id = (await members.register(uow, programme, "telegram", user, now)).member.id
        await uow.commit()
        return member_id


async def held(db, member_id) -> set[str]:
    async with db.uow() as uow:
        return await roles.held(uow, member_id)


async def test_the_owner_follows_the_settings(db, programme, now):
    async with db.uow() as uow:
        first = await roles.set_owner(uow, programme, "telegram:12345", now)
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.session.scalar(select(Identity.member_id).where(
            Identity.external_id == "12345"))
        assert found == first
    assert await held(db, first) == {"owner"}
    async with db.uow() as uow:
        second = await roles.set_owner(uow, programme, "wechat:oAbc", now)
        await roles.set_owner(uow, programme, "wechat:oAbc", now)  # again: nothing new
        await uow.commit()
    assert await held(db, first) == set() and await held(db, second) == {"owner"}
    with pytest.raises(RoleRefused):
        async with db.uow() as uow:
            await roles.set_owner(uow, programme, "no-platform", now)


async def test_roles_are_granted_down_the_ladder_only(db, programme, now):
    async with db.uow() as uow:
        owner = await roles.set_owner(uow, programme, "telegram:1", now)
        await uow.commit()
    admin, staff, other = [await join(db, programme, now, u) for u in ("a", "s", "o")]

    async def act(fn, actor, role, target):
        async with db.uow() as uow:
            try:
                return await fn(uow, actor, role, target, now)
            finally:
                await uow.commit()

    assert await act(roles.grant, owner, "admin", admin) is True
    assert await act(roles.grant, admin, "staff", staff) is True
    for actor, role in [(admin, "admin"), (staff, "staff"), (other, "staff"), (owner, "owner")]:
        with pytest.raises(RoleRefused) as refused:
            await act(roles.grant, actor, role, other)
        assert refused.value.code == "role_not_yours"
    with pytest.raises(RoleRefused, match="role_unknown"):
        await act(roles.grant, owner, "wizard", other)
    assert await act(roles.revoke, admin, "staff", staff) is True
    assert await act(roles.revoke, admin, "staff", staff) is False
    async with db.uow() as uow:
        assert await roles.can(uow, admin, "audit") and not await roles.can(uow, staff, "verify")
        log = [(e.action, e.target, e.params["role"]) for e in await audit.recent(uow, 10)]
    assert log[:3] == [("role.revoke", "member:00000003", "staff"),
                       ("role.grant", "member:00000003", "staff"),
                       ("role.grant", "member:00000002", "admin")]


def test_the_owner_setting_is_read_from_the_environment():
    settings = Settings.from_env({"MEMBERBOT_OWNER": "telegram:12345"})
    assert settings.owner == "telegram:12345"
    assert Settings.from_env({}).owner is None


async def test_start_up_installs_the_owner(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/owner.db",
                        owner="telegram:777")
    async with lifespan(settings) as app, app.db.uow() as uow:
        owner = await members.by_identity(uow, "telegram", "777")
        assert await roles.held(uow, owner.id) == {"owner"}
        entry = await uow.session.scalar(select(AuditEntry))
        assert (entry.actor, entry.action) == ("settings", "role.grant")


async def test_a_malformed_owner_stops_the_start_with_a_clear_message(tmp_path):
    from domain.config import ConfigError
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/bad.db", owner="12345")
    with pytest.raises(ConfigError, match="MEMBERBOT_OWNER"):
        async with lifespan(settings):
            pass
