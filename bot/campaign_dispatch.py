"""The campaign dispatcher: starts due campaigns, sends their deliveries through each
platform's pusher (Telegram's flood-safe Sender, WeChat's window and quota), records
every outcome as it comes back, and keeps the operator's progress message current.

Claims are bounded by the sends in flight, so a claimed row is sent within seconds
and its lease (renewed while it waits, say in a long flood pause) outlives it; the
pushers pace the sending. Each platform is handed at most `per_platform` messages at
a time, the rest wait here: so a pause or a cancel, seen at the next pass, stops the
sending within a moment, and what was claimed but not handed over is released, as
it is when the process stops. Outcomes are written every `flush_every` seconds in
one transaction, so a crash can repeat at most the sends of that last moment:
everything recorded is never sent again, and everything unrecorded is sent after the
leases run out (at once, for a process that knows it is alone).

A member is sent the campaign on the first of their accounts, in the pushers' order
of preference, on a platform the campaign is for (those its segment names, else any);
where that platform cannot deliver (unreachable, or WeChat's window closed), the next.
A campaign sent on a platform still connecting (Telegram at start) waits until it is.

An operator on a platform that cannot edit a message (WeChat) is pushed the start,
then at most three milestones (a quarter, half and three quarters sent, each at least
`milestone_every` after the last look), and the end: a few messages of the service
window's quota, never one per look. Pushed, the progress has no buttons (a number
typed back would answer the conversation's own options, not these); it says to send
/campaign N instead. An end the platform would not take now (WeChat's window closed
or its quota spent, or a passing error) is tried again every `owed_every` seconds
for a day while this process runs, so it arrives once the operator writes again.

A campaign whose words hold handlers.campaigns.words.RECOMMENDED gets each member's top
reward pick (domain.insight.recommendations) filled in: read once per claimed slice,
from a snapshot, a few members at a time, with the model the composition root keeps on
the programme. Should that fail, the members get the message without that line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.notifier import Push, connecting
from domain.campaigns import campaigns, deliveries
from domain.campaigns.deliveries import Progress, Work
from domain.campaigns.tables import Campaign
from domain.config import Programme, RewardItem
from domain.insight import recommendations
from domain.storage.database import Database
from handlers.campaigns.words import member_message, progress_message, recommends
from handlers.engine.i18n import translate
from handlers.engine.types import Rendered, Text

log = logging.getLogger(__name__)
# Shows a message in an operator's chat: edits `message_id` when given (and still
# editable), else sends a new one; returns the message's id, or None when not shown.
Edit = Callable[[str, Rendered, str | None], Awaitable[str | None]]
Outcome = tuple[int, str, str | None, str | None]  # delivery, outcome, platform, detail
RATE_WINDOW = 30.0  # seconds of progress the ETA is measured over
NO_ACCOUNT = "no account on a platform this campaign is sent on"
PASS_ON = ("unreachable", "deferred")  # outcomes after which the next platform is tried
QUARTERS = 4  # a pushed progress is heard at each quarter on the way, none twice
ENDED = ("done", "cancelled")
TRY_AGAIN = ("deferred", "retry")  # a pushed end the platform may take later
OWED_FOR = 24 * 3600.0  # seconds an untaken end is tried again
PICKS_AT_ONCE = 20  # members whose top pick is ranked between two turns of the loop


# Platforms where a pushed message's buttons can be pressed. Elsewhere (WeChat, the
# console) a typed number answers the conversation's last buttons, not a pushed
# message's: there the message's words say what to type instead ("TD").
PRESSABLE = frozenset({"telegram"})


@dataclass
class Owed:
    """A campaign's end its operator's platform did not take yet."""

    platform: str
    chat: str
    message: Rendered
    due: float  # monotonic time of the next try
    until: float  # ... and of the last


class Lane:
    """At most `size` of one platform's sends in its hands at a time. A send waiting
    for its turn gives up as soon as `halted()` says so (its campaign was paused or
    cancelled), not when a turn comes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self._changed = asyncio.Condition()

    async def enter(self, halted: Callable[[], bool]) -> bool:
        """True with a turn taken (give it back with `leave`); False when halted."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.busy < self.size or halted())
            if halted():
                self._changed.notify()  # the turn this waiter may have been woken for
                return False
            self.busy += 1
            return True

    async def leave(self) -> None:
        async with self._changed:
            self.busy -= 1
            self._changed.notify()

    async def wake(self) -> None:
        """Let every waiter look at whether its campaign was halted."""
        async with self._changed:
            self._changed.notify_all()


class Dispatcher:
    def __init__(self, db: Database, programme: Programme, pushers: dict[str, Push],
                 editors: dict[str, Edit] | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 batch: int = 200, in_flight: int = 600, every: float = 1.0,
                 progress_every: float = 3.0, flush_every: float = 0.2,
                 per_platform: int = 64, alone: bool = False,
                 milestone_every: float = 60.0, owed_every: float = 60.0) -> None:
        self.db = db
        self.programme = programme
        self.pushers = pushers  # in order of preference
        self.editors = editors if editors is not None else {}
        self.clock = clock
        self.batch = batch
        self.in_flight = in_flight
        self.every = every
        self.progress_every = timedelta(seconds=progress_every)
        self.flush_every = flush_every
        self.per_platform = per_platform
        self.alone = alone
        self.milestone_every = timedelta(seconds=milestone_every)
        self.owed_every = owed_every
        self._lanes: dict[str, Lane] = {}
        self._halted: set[int] = set()  # campaigns being sent here that stopped running
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._flying: dict[int, asyncio.Task[None]] = {}  # delivery id -> its send
        self._outcomes: list[Outcome] = []
        self._room = asyncio.Event()
        self._samples: dict[int, deque[tuple[float, int]]] = {}
        self._shown: dict[int, str] = {}  # the progress text last shown, per campaign
        self._quarters: dict[int, int] = {}  # the quarter last pushed, per campaign
        self._owed: dict[int, Owed] = {}  # ends to push again, per campaign

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        if self.alone:
            async with self.db.uow() as uow:
                await deliveries.take_over(uow, self.clock())
                await uow.commit()
        flusher = asyncio.create_task(self._keep_flushing())
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("campaign dispatch pass failed")
                await asyncio.sleep(self.every)
        finally:
            await self._stop(flusher)

    async def tick(self) -> None:
        """Start what is due, send what is running, show progress where it is behind."""
        await campaigns.start_due(self.db, self.programme, self.clock())
        async with self.db.uow() as uow:
            watched = await deliveries.running(uow)
        halted = set(self._sending) - {c.id for c in watched if c.status == "running"}
        newly, self._halted = halted - self._halted, halted
        if newly:
            for lane in self._lanes.values():
                await lane.wake()
        for campaign in watched:
            if campaign.status == "running" and campaign.id not in self._sending \
                    and not self._waiting(campaign):
                self._sending[campaign.id] = asyncio.create_task(self._send(campaign))
            try:
                await self._show(campaign)
            except Exception:
                log.exception("campaign progress failed", extra={"campaign": campaign.id})
        await self._push_owed()

    async def run_until_idle(self, *, until_waiting: bool = False) -> None:
        """Tick until no campaign is left to start or send (tests and benchmarks; wrap
        it in a timeout); with `until_waiting`, until what is left waits for later (a
        survey's members in their quiet hours)."""
        flusher = asyncio.create_task(self._keep_flushing())
        try:
            while True:
                await self.tick()
                if until_waiting:  # each send pass ends once nothing is claimable now
                    await asyncio.gather(*self._sending.values(), return_exceptions=True)
                await self.flush()
                async with self.db.uow() as uow:
                    left = await deliveries.running(uow)
                    waiting = until_waiting and not await deliveries.due(uow, self.clock())
                if (not left or waiting) and not self._sending:
                    return
                await asyncio.sleep(self.every)
        finally:
            await self._stop(flusher)

    async def _stop(self, flusher: asyncio.Task[None]) -> None:
        tasks = [*self._sending.values(), *self._flying.values(), flusher]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    # ------------------------------------------------------------------ sending

    async def _send(self, campaign: Campaign) -> None:
        mine: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self.in_flight - len(self._flying)
                if free < min(self.batch, self.in_flight // 2):
                    self._room.clear()
                    await self._room.wait()
                    continue
                async with self.db.uow() as uow:
                    work = await deliveries.claim(uow, self.programme, campaign, self.clock(),
                                                  min(self.batch, free))
                    await uow.commit()
                if not work:
                    break
                tops = await self.recommended(campaign, [item.member_id for item in work])
                for item in work:
                    task = asyncio.create_task(
                        self._deliver(campaign, item, tops.get(item.member_id)))
                    self._flying[item.delivery_id] = task
                    mine.add(task)
                    task.add_done_callback(mine.discard)
            if mine:
                await asyncio.wait(set(mine))
            await self.flush()
            async with self.db.uow() as uow:
                await deliveries.complete(uow, campaign.id, self.clock())
                await uow.commit()
        finally:
            self._sending.pop(campaign.id, None)

    async def recommended(self, campaign: Campaign,
                          member_ids: list[int]) -> dict[int, RewardItem]:
        """Each member's top pick, for a campaign whose words ask for it. Unlike a
        member's /rewards, a campaign sent before the first model is built waits for
        it (Models.get)."""
        models = self.programme.recommender
        if models is None or not recommends(campaign):
            return {}
        tops: dict[int, RewardItem] = {}
        try:
            now = self.clock()
            model = await models.get(now)
            for start in range(0, len(member_ids), PICKS_AT_ONCE):
                async with self.db.snapshot() as snapshot:
                    found = await recommendations.for_members(
                        snapshot, self.programme, model,
                        member_ids[start:start + PICKS_AT_ONCE], now, limit=1)
                tops.update((member_id, picks[0].item)
                            for member_id, picks in found.items() if picks)
                await asyncio.sleep(0)
        except Exception:  # noqa: BLE001 - a pick is a nicety; the campaign goes on
            log.exception("campaign picks failed", extra={"campaign": campaign.id})
        return tops

    async def _deliver(self, campaign: Campaign, work: Work,
                       recommended: RewardItem | None = None) -> None:
        outcome: str = "unreachable"
        platform: str | None = None
        detail: str | None = NO_ACCOUNT
        handed = False  # once a pusher has it, only its outcome says what happened
        try:
            coupon = work.coupon
            message = member_message(campaign, work.variant, self.programme, work.locale,
                                     coupon.code if coupon else None,
                                     coupon.expires_at if coupon else None, recommended)
            for platform, external_id in self.routes(campaign, work):
                lane = self._lane(platform)
                metrics.queue_in(platform, "campaign")
                try:
                    entered = await lane.enter(lambda: campaign.id in self._halted)
                finally:
                    metrics.queue_out(platform, "campaign")
                if not entered:
                    outcome, detail = deliveries.RELEASE, None
                    break
                handed, detail = True, None
                try:
                    outcome = await self.pushers[platform](external_id, message if (
                        platform in PRESSABLE) else replace(message, buttons=()))
                except Exception as exc:  # noqa: BLE001 - a broken pusher must not stop the rest
                    log.exception("campaign push failed", extra={"delivery": work.delivery_id})
                    outcome, detail = "retry", type(exc).__name__
                    break
                finally:
                    await lane.leave()
                if outcome not in PASS_ON:
                    break
            self._outcomes.append((work.delivery_id, outcome, platform, detail))
        except asyncio.CancelledError:
            if not handed:  # stopping: what never left is claimable again at once
                self._outcomes.append((work.delivery_id, deliveries.RELEASE, None, None))
            raise
        finally:
            self._flying.pop(work.delivery_id, None)
            self._room.set()

    def routes(self, campaign: Campaign, work: Work) -> list[tuple[str, str]]:
        """(platform, account) to try, in the pushers' order: the member's first account
        on each platform the campaign is for."""
        wanted = campaign.segment.get("platforms") or list(self.pushers)
        first: dict[str, str] = {}
        for platform, external_id in work.accounts:
            first.setdefault(platform, external_id)
        return [(p, first[p]) for p in self.pushers if p in first and p in wanted]

    def _waiting(self, campaign: Campaign) -> bool:
        """Whether a platform the campaign is sent on is still connecting (Telegram at
        start): the campaign waits for it, rather than pass its members over."""
        wanted = campaign.segment.get("platforms") or list(self.pushers)
        return any(self.pushers.get(p) is connecting for p in wanted)

    def _lane(self, platform: str) -> Lane:
        lane = self._lanes.get(platform)
        if lane is None:
            lane = self._lanes[platform] = Lane(self.per_platform)
        return lane

    async def flush(self) -> None:
        """Write the outcomes that came back since the last flush."""
        if not self._outcomes:
            return
        taken, self._outcomes = self._outcomes, []
        try:
            async with self.db.uow() as uow:
                await deliveries.finish(uow, taken, self.clock())
                await uow.commit()
        except BaseException:
            self._outcomes[:0] = taken  # written next time; nothing is lost
            raise

    async def _keep_flushing(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
                if time.monotonic() - renewed > deliveries.LEASE.total_seconds() / 4:
                    renewed = time.monotonic()
                    async with self.db.uow() as uow:
                        await deliveries.extend(uow, list(self._flying), self.clock())
                        await uow.commit()
            except Exception:
                log.exception("recording campaign outcomes failed")

    # ------------------------------------------------------------------ progress

    async def _show(self, campaign: Campaign) -> None:
        platform, chat = campaign.operator_platform, campaign.operator_chat
        editor, pusher = self.editors.get(platform), self.pushers.get(platform)
        if editor is None and (pusher is None or pusher is connecting):
            return  # the console: /campaign N shows it; or the platform is connecting
        moving = campaign.status == "running"
        # A platform that cannot edit, once it heard the start: milestones only.
        milestones = editor is None and moving and campaign.progress_message is not None
        every = max(self.progress_every, self.milestone_every) if milestones \
            else self.progress_every
        async with self.db.uow() as uow:
            if not await deliveries.progress_turn(uow, campaign.id, self.clock(), every,
                                                  campaign.status):
                return
            await uow.commit()
        async with self.db.snapshot() as snapshot:  # a count over every delivery
            progress = await deliveries.progress(snapshot, campaign)
        eta = self._eta(campaign.id, progress) if moving else None
        if milestones and not self._milestone(campaign.id, progress.percent):
            return
        message = progress_message(campaign, progress, eta,
                                   edit=campaign.progress_message is not None)
        if editor is None:
            message = pushed(campaign, message)
        if self._shown.get(campaign.id) == message.text:
            return
        if editor is not None:
            shown = await editor(chat, message, campaign.progress_message)
        else:
            outcome = await pusher(chat, message)
            shown = "pushed" if outcome == "sent" else None
            if not milestones:  # the start (or a pause): milestones count from here
                self._quarters[campaign.id] = progress.percent * QUARTERS // 100
            self._owe(campaign, message, outcome)
        if shown is None:
            return
        self._shown[campaign.id] = message.text
        if shown != campaign.progress_message:
            async with self.db.uow() as uow:
                await deliveries.shown(uow, campaign.id, shown)
                await uow.commit()

    def _milestone(self, campaign_id: int, percent: int) -> bool:
        """Whether a pushed progress has reached a quarter it has not been heard at. A
        process that did not push the start (restarted since) waits for the next one."""
        quarter = percent * QUARTERS // 100
        last = self._quarters.setdefault(campaign_id, quarter)
        if not last < quarter < QUARTERS:
            return False
        self._quarters[campaign_id] = quarter
        return True

    def _owe(self, campaign: Campaign, message: Rendered, outcome: str) -> None:
        """Remember an end the platform did not take now; forget any other."""
        if campaign.status in ENDED and outcome in TRY_AGAIN:
            now = time.monotonic()
            self._owed[campaign.id] = Owed(campaign.operator_platform, campaign.operator_chat,
                                           message, now + self.owed_every, now + OWED_FOR)
        else:
            self._owed.pop(campaign.id, None)
        if campaign.status in ENDED:
            self._quarters.pop(campaign.id, None)

    async def _push_owed(self) -> None:
        """Try the untaken ends that are due again."""
        now = time.monotonic()
        for campaign_id, owed in list(self._owed.items()):
            if owed.due > now:
                continue
            pusher = self.pushers.get(owed.platform)
            if pusher is None or pusher is connecting:
                continue
            try:
                outcome = await pusher(owed.chat, owed.message)
            except Exception:  # noqa: BLE001 - tried again later, like a "retry"
                log.exception("campaign end failed", extra={"campaign": campaign_id})
                outcome = "retry"
            if outcome in TRY_AGAIN and now < owed.until:
                owed.due = now + self.owed_every
            else:
                self._owed.pop(campaign_id, None)

    def _eta(self, campaign_id: int, progress: Progress) -> int | None:
        """Seconds left at the pace of the last RATE_WINDOW seconds, or None."""
        now = time.monotonic()
        samples = self._samples.setdefault(campaign_id, deque())
        samples.append((now, progress.done))
        while len(samples) > 2 and samples[0][0] < now - RATE_WINDOW:
            samples.popleft()
        then, before = samples[0]
        if now - then < 1 or progress.done <= before:
            return None
        return int(progress.remaining * (now - then) / (progress.done - before))


def pushed(campaign: Campaign, message: Rendered) -> Rendered:
    """The progress as pushed to a platform without inline buttons: a number typed back
    answers the options of the conversation, not these, so /campaign N is named instead
    (its card offers the same controls, and numbers answer them there)."""
    if not message.buttons:
        return message
    hint = translate(Text("campaign.pushed_controls", {"number": str(campaign.id)}),
                     campaign.operator_locale)
    return replace(message, text=f"{message.text}\n\n{hint}", buttons=())
