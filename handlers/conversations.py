"""Composes every feature's router into the one the engine runs."""

from __future__ import annotations

from typing import Any

from domain.config import Programme
from domain.database import Database
from handlers import (
    campaigns,
    catalogue,
    checkin,
    coupons,
    jobs,
    language,
    link,
    operator,
    points,
    profile,
    referrals,
    rewards,
    roles,
    staff,
    start,
    tier,
)
from handlers.engine import Engine
from handlers.routing import Router

FEATURES = (start, points, tier, checkin, profile, language, link,
            rewards, catalogue, coupons, referrals, roles, staff, operator, jobs, campaigns)


def build_router() -> Router:
    root = Router()
    for feature in FEATURES:
        root.include(feature.router)
    return root


def build_engine(db: Database, programme: Programme, **options: Any) -> Engine:
    return Engine(db, programme, build_router(), **options)
