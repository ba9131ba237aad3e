"""Operator roles. The owner comes from the process settings (a platform identity);
the owner and admins grant the rest. Every check reads the database, so a revoked
role stops working on the very next command or button."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select

from domain.config import Programme
from domain.errors import DomainError
from domain.members import members
from domain.members.tables import Identity
from domain.staff import audit
from domain.staff.tables import StaffRole
from domain.storage.database import UnitOfWork

ROLES = ("owner", "admin", "operator", "staff", "moderator")
PERMISSIONS: dict[str, frozenset[str]] = {
    "grant": frozenset({"owner", "admin"}),
    "audit": frozenset({"owner", "admin"}),
    "purchase": frozenset({"owner", "admin", "operator"}),
    "award": frozenset({"owner", "admin", "operator"}),  # /award: give or take back points
    "stock": frozenset({"owner", "admin", "operator"}),
    "rewards": frozenset({"owner", "admin", "operator"}),  # /reward: edit the catalogue
    "jobs": frozenset({"owner", "admin", "operator"}),  # /jobs: see, pause, run
    "campaign": frozenset({"owner", "admin", "operator"}),  # also segments and tags
    "gates": frozenset({"owner", "admin", "operator"}),  # /gate, /gates: gated chats
    # /survey list|send|results: a staff member's follow-up (回访) to one member included.
    "survey": frozenset({"owner", "admin", "operator", "staff"}),
    "support": frozenset({"owner", "admin", "operator", "staff"}),  # /tickets, /reply
    "support_chat": frozenset({"owner", "admin", "operator"}),  # /setsupport
    # Warn, mute, ban and the group settings in any group the bot administers (as the
    # group's own admins may).
    "moderate": frozenset({"owner", "admin", "operator", "staff", "moderator"}),
    "verify": frozenset({"owner", "admin", "operator", "staff"}),
    "insight": frozenset({"owner", "admin", "operator"}),  # /stats, /segments, /report
    "member_data": frozenset({"owner"}),  # /member export: a member's data, on request
    "subscribers": frozenset({"owner", "admin", "operator"}),  # /subscribers: paid plans
    "refund": frozenset({"owner", "admin"}),  # /refund: a paid plan's payment given back
}
# Who may hand out which role. Nobody grants "owner": it comes from the settings.
GRANTABLE: dict[str, frozenset[str]] = {
    "owner": frozenset({"admin", "operator", "staff", "moderator"}),
    "admin": frozenset({"operator", "staff", "moderator"}),
}


class RoleRefused(DomainError):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        super().__init__(**params)


async def held(uow: UnitOfWork, member_id: int) -> set[str]:
    rows = await uow.session.scalars(select(StaffRole.role)
                                     .where(StaffRole.member_id == member_id))
    return set(rows)


async def holders(uow: UnitOfWork, permission: str) -> list[int]:
    """The members whose role gives `permission`, in id order: those a staff notice
    about it goes to."""
    rows = await uow.session.scalars(
        select(StaffRole.member_id).distinct()
        .where(StaffRole.role.in_(sorted(PERMISSIONS[permission])))
        .order_by(StaffRole.member_id))
    return list(rows)


_AMONG = (select(StaffRole.__table__.c.member_id).distinct()
          .where(StaffRole.__table__.c.member_id.in_(bindparam("b_ids", expanding=True))))


async def among(uow: UnitOfWork, member_ids: list[int]) -> set[int]:
    """Which of these members hold a role: one query for a whole batch of messages, on
    every batch, so it takes the Core path (UnitOfWork.execute)."""
    if not member_ids:
        return set()
    return {row[0] for row in await uow.execute(_AMONG, {"b_ids": member_ids})}


async def staff_accounts(uow: UnitOfWork, platform: str) -> dict[str, set[str]]:
    """Every staff member's account on `platform`, with the permissions their roles give
    (a platform shows these commands in staff chats only)."""
    rows = await uow.session.execute(
        select(Identity.external_id, StaffRole.role)
        .join(StaffRole, StaffRole.member_id == Identity.member_id)
        .where(Identity.platform == platform))
    accounts: dict[str, set[str]] = {}
    for external_id, role in rows:
        accounts.setdefault(external_id, set()).update(
            permission for permission, allowed in PERMISSIONS.items() if role in allowed)
    return accounts


def least(permission: str) -> str:
    """The least role that has `permission`: each permission belongs to a role and every
    role above it in ROLES (a test keeps it so), so this one role says who may."""
    return [role for role in ROLES if role in PERMISSIONS[permission]][-1]


async def can(uow: UnitOfWork, member_id: int, permission: str) -> bool:
    return bool(await held(uow, member_id) & PERMISSIONS[permission])


async def set_owner(uow: UnitOfWork, programme: Programme, identity: str,
                    now: datetime) -> int:
    """Make the member behind `platform:external_id` the owner, and nobody else."""
    platform, _, external_id = identity.partition(":")
    if not platform or not external_id:
        raise RoleRefused("owner_identity", identity=identity)
    owner = (await members.register(uow, programme, platform, external_id, now)).member
    await uow.session.execute(delete(StaffRole).where(StaffRole.role == "owner",
                                                      StaffRole.member_id != owner.id))
    if "owner" not in await held(uow, owner.id):
        uow.session.add(StaffRole(member_id=owner.id, role="owner", granted_by="settings",
                                  granted_at=now))
        await audit.record(uow, "settings", "role.grant", audit.member_actor(owner.id),
                           {"role": "owner"}, now)
    await uow.flush()
    return owner.id


async def grant(uow: UnitOfWork, actor_id: int, role: str, target_id: int,
                now: datetime) -> bool:
    """False when the target already holds the role."""
    await _may_hand_out(uow, actor_id, role)
    await members.get(uow, target_id)
    if role in await held(uow, target_id):
        return False
    uow.session.add(StaffRole(member_id=target_id, role=role,
                              granted_by=audit.member_actor(actor_id), granted_at=now))
    await audit.record(uow, audit.member_actor(actor_id), "role.grant",
                       audit.member_actor(target_id), {"role": role}, now)
    return True


async def revoke(uow: UnitOfWork, actor_id: int, role: str, target_id: int,
                 now: datetime) -> bool:
    """False when the target did not hold the role."""
    await _may_hand_out(uow, actor_id, role)
    gone = await uow.changed(delete(StaffRole).where(
        StaffRole.member_id == target_id, StaffRole.role == role))
    if gone != 1:
        return False
    await audit.record(uow, audit.member_actor(actor_id), "role.revoke",
                       audit.member_actor(target_id), {"role": role}, now)
    return True


async def _may_hand_out(uow: UnitOfWork, actor_id: int, role: str) -> None:
    if role not in ROLES:
        raise RoleRefused("role_unknown", role=role)
    mine = await held(uow, actor_id)
    if not any(role in GRANTABLE.get(r, ()) for r in mine):
        raise RoleRefused("role_not_yours", role=role)
