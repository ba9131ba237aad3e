"""Composes every feature's router into the one the engine runs."""

from __future__ import annotations

from typing import Any

from domain.config import Programme
from domain.storage.database import Database
from handlers.campaigns import flow as campaigns
from handlers.community import gates, groups
from handlers.engine.engine import Engine
from handlers.engine.routing import Router
from handlers.feedback import survey
from handlers.insight import report as insight_report
from handlers.insight import segments as insight_segments
from handlers.insight import stats
from handlers.members import home, language, link, profile, referrals, rules, start
from handlers.membership import premium, subscribers, terms
from handlers.points import award, checkin, points
from handlers.points import purchase as operator
from handlers.privacy import deleteme, member_data, mydata, privacy
from handlers.rewards import catalogue, coupons, rewards
from handlers.rewards import counter as staff
from handlers.staff import jobs, roles
from handlers.support import inbox, tickets
from handlers.tiers import tier

FEATURES = (start, home, points, tier, rules, checkin, profile, language, link,
            rewards, catalogue, coupons, referrals, groups, roles, staff, operator, award, jobs,
            campaigns, gates, survey, inbox, tickets, stats, insight_segments,
            insight_report, privacy, mydata, member_data, deleteme, terms, premium, subscribers)


def build_router() -> Router:
    root = Router()
    for feature in FEATURES:
        root.include(feature.router)
    return root


def build_engine(db: Database, programme: Programme, **options: Any) -> Engine:
    return Engine(db, programme, build_router(), **options)
