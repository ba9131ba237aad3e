"""A variant's words by language: what a draft may hold, how a campaign stores them, and
which words (in which language) a member who reads a language gets."""

from __future__ import annotations

import pytest

from domain.campaigns import campaigns
from domain.campaigns.campaigns import CampaignRefused, Draft
from domain.campaigns.segments import Segment


@pytest.mark.parametrize(("texts", "code"), [
    (({},), "variants"),  # a language-less dict: nothing to send
    (({"fr": "Bonjour"},), "variants"),  # a language we do not speak
    (({"en": "Hi", "zh_Hans": "  "},), "text_empty"),
    (({"en": "Hi", "zh_Hans": "长" * 1001},), "text_long"),
    (("Hi", {"en": ""}), "text_empty"),
])
def test_words_per_language_are_checked_like_one_text(programme, now, texts, code):
    draft = Draft(Segment(), texts, split=50 if len(texts) == 2 else 100)
    with pytest.raises(CampaignRefused) as refused:
        campaigns.check(draft, programme, now)
    assert refused.value.code == code


def test_stored_words_fall_back_to_the_default_language_then_the_first(programme):
    assert programme.default_locale == "zh_Hans"
    both = campaigns.stored_variant("A", {"en": "Hi", "zh_Hans": "你好"}, 10_000, programme)
    assert both == {"code": "A", "text": "你好", "texts": {"en": "Hi", "zh_Hans": "你好"},
                    "share": 10_000}
    assert campaigns.text_for(both, "en", "zh_Hans") == ("Hi", "en")
    assert campaigns.text_for(both, "zh_Hans", "zh_Hans") == ("你好", "zh_Hans")
    english = campaigns.stored_variant("A", {"en": "Hi"}, 10_000, programme)
    assert english["text"] == "Hi"
    # A Chinese reader the segment did not reach when it was written: the English
    # words, and the whole message in English.
    assert campaigns.text_for(english, "zh_Hans", "zh_Hans") == ("Hi", "en")
    one = campaigns.stored_variant("B", "Tea", 5_000, programme)
    assert one == {"code": "B", "text": "Tea", "share": 5_000}
    assert campaigns.text_for(one, "en", "zh_Hans") == ("Tea", "en")
    assert campaigns.text_for(one, "zh_Hans", "zh_Hans") == ("Tea", "zh_Hans")
    assert campaigns.languages(({"zh_Hans": "茶", "en": "Tea"}, "Tea")) == ["en", "zh_Hans"]
    assert campaigns.languages(("Tea",)) == []


async def test_migration_0012_adds_the_hint_and_takes_it_back_keeping_members(backend):
    from sqlalchemy import text

    from domain.storage import schema

    db = await backend.empty()
    try:
        await schema.upgrade(db.engine, "0011")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO members (id, phone_verified, locale, marketing_consent, status, "
                "joined_at, last_active_at, referral_code, points_balance, purchase_count) "
                "VALUES (1, false, 'en', true, 'active', '2026-01-01', '2026-01-01', 'R1', 0, 0)"))
        await schema.upgrade(db.engine, "0012")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text(
                "SELECT locale, language_hint FROM members"))).all() == [("en", None)]
            await conn.execute(text("UPDATE members SET language_hint = 'zh_Hans'"))
        await schema.downgrade(db.engine, "0011")
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT id, locale FROM members"))).all() == [
                (1, "en")]
        await schema.upgrade(db.engine)
        assert await schema.current(db.engine) == schema.head()
    finally:
        await db.dispose()
