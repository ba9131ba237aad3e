"""What a survey asks: its questions as the programme file or an operator wrote them.

A definition is checked whole when it is read, so a survey that reaches members can
always be walked to its end: every question has what its kind needs, and a "show if"
points back at an earlier question, one level deep, with answers that question can
give. The same model checks `[[surveys]]` in the programme file and a survey built in
chat, and is what the database keeps (as JSON) for each survey.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from domain.wording import Strict, Words

Code = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
KINDS = ("single", "multiple", "rating", "nps", "text")
SCALES = {"rating": range(1, 6), "nps": range(0, 11)}
MOST_QUESTIONS = 20
MOST_CHOICES = 10
TEXT_LIMIT = 2000  # characters a free-text answer may be given at most


class Choice(Strict):
    code: Code
    label: Words


class ShowIf(Strict):
    """Ask only when an earlier question's answer matches: one of `any_of` (choice
    codes), or a score within [`at_least`, `at_most`]."""

    question: Code
    any_of: tuple[Code, ...] = ()
    at_least: StrictInt | None = None
    at_most: StrictInt | None = None

    @model_validator(mode="after")
    def _one_test(self) -> ShowIf:
        if bool(self.any_of) == (self.at_least is not None or self.at_most is not None):
            raise ValueError("show_if needs either any_of (choices) or at_least/at_most "
                             "(a score)")
        return self

    def matches(self, answer: object) -> bool:
        if answer is None:
            return False
        if self.any_of:
            given = answer if isinstance(answer, list) else [answer]
            return any(code in self.any_of for code in given)
        if not isinstance(answer, int):
            return False
        return (self.at_least is None or answer >= self.at_least) and \
            (self.at_most is None or answer <= self.at_most)


class Question(Strict):
    code: Code
    kind: Literal["single", "multiple", "rating", "nps", "text"]
    text: Words
    choices: tuple[Choice, ...] = ()
    optional: StrictBool = False
    max_length: Annotated[StrictInt, Field(ge=1, le=TEXT_LIMIT)] = 500
    show_if: ShowIf | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> Question:
        chooses = self.kind in ("single", "multiple")
        if chooses and not 2 <= len(self.choices) <= MOST_CHOICES:
            raise ValueError(f"a {self.kind} question needs 2 to {MOST_CHOICES} choices")
        if not chooses and self.choices:
            raise ValueError(f"a {self.kind} question has no choices")
        codes = [c.code for c in self.choices]
        if len(set(codes)) != len(codes):
            raise ValueError("choice codes must be unique")
        return self

    def valid(self, value: object) -> bool:
        """Whether `value` is an answer this question can take (already cleaned)."""
        codes = {c.code for c in self.choices}
        if self.kind == "single":
            return isinstance(value, str) and value in codes
        if self.kind == "multiple":
            return isinstance(value, list) and bool(value) and set(value) <= codes \
                and len(set(value)) == len(value)
        if self.kind in SCALES:
            return isinstance(value, int) and not isinstance(value, bool) \
                and value in SCALES[self.kind]
        return isinstance(value, str) and 0 < len(value) <= self.max_length


class Trigger(Strict):
    """When the scheduler sends the survey by itself. `after_purchase_hours`: that long
    after a member's latest purchase, to those who never had it; `after_redemption_hours`:
    likewise after they redeemed a reward or used a coupon; `on_lapse`: when they turn
    lapsing (when win-back coupons go), to those who never had it; `every_days`: to
    members who bought at least once, at most once in that many days."""

    after_purchase_hours: Annotated[StrictInt, Field(ge=1, le=720)] | None = None
    after_redemption_hours: Annotated[StrictInt, Field(ge=1, le=720)] | None = None
    on_lapse: StrictBool = False
    every_days: Annotated[StrictInt, Field(ge=7, le=3650)] | None = None


class SurveyDef(Strict):
    code: Code
    title: Words
    intro: Words
    questions: Annotated[tuple[Question, ...], Field(min_length=1, max_length=MOST_QUESTIONS)]
    reward_points: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0
    reward: Code | None = None  # a catalogue coupon given on completion
    closes: date | None = None  # no answers after this day (the programme's zone)
    trigger: Trigger | None = None

    @model_validator(mode="after")
    def _walkable(self) -> SurveyDef:
        seen: dict[str, Question] = {}
        for i, q in enumerate(self.questions):
            if q.code in seen:
                raise ValueError(f"questions.{i}: code {q.code!r} is used twice")
            rule = q.show_if
            if rule is not None:
                earlier = seen.get(rule.question)
                where = f"questions.{i}.show_if"
                if earlier is None:
                    raise ValueError(f"{where}: {rule.question!r} is not an earlier question")
                if earlier.show_if is not None:
                    raise ValueError(f"{where}: {rule.question!r} has a show_if of its own "
                                     "(one level only)")
                if earlier.kind == "text":
                    raise ValueError(f"{where}: a free-text answer cannot be matched")
                if rule.any_of and earlier.kind not in ("single", "multiple"):
                    raise ValueError(f"{where}: any_of needs a choice question")
                if not rule.any_of and earlier.kind not in SCALES:
                    raise ValueError(f"{where}: at_least/at_most need a rating or NPS")
                unknown = set(rule.any_of) - {c.code for c in earlier.choices}
                if unknown:
                    raise ValueError(f"{where}: {sorted(unknown)} are not choices of "
                                     f"{rule.question!r}")
            seen[q.code] = q
        return self

    def question(self, code: str) -> Question | None:
        return next((q for q in self.questions if q.code == code), None)

    def asked(self, answers: dict[str, object]) -> list[Question]:
        """The questions this member is asked, given their answers so far."""
        return [q for q in self.questions
                if q.show_if is None or q.show_if.matches(answers.get(q.show_if.question))]

    def how_many(self, answers: dict[str, object]) -> tuple[int, int]:
        """The fewest and the most questions this member can be asked in all, given
        their answers so far: each question a show-if still waits on counts for the
        answers of its trigger that show the fewest and the most of them."""
        fixed = sum(q.show_if is None or q.show_if.question in answers
                    and q.show_if.matches(answers[q.show_if.question])
                    for q in self.questions)
        fewest = most = fixed
        for trigger in self.questions:
            waiting = [q for q in self.questions
                       if q.show_if is not None and q.show_if.question == trigger.code
                       and trigger.code not in answers]
            if waiting:
                shown = [sum(q.show_if.matches(value) for q in waiting if q.show_if)
                         for value in _answers_of(trigger)]
                fewest, most = fewest + min(shown), most + max(shown)
        return fewest, most

    def next_question(self, answers: dict[str, object]) -> Question | None:
        """The first question asked and not yet answered (or skipped): None when done.
        A skipped optional question is in `answers` with None."""
        return next((q for q in self.asked(answers) if q.code not in answers), None)


def _answers_of(q: Question) -> list[object]:
    """Answers that stand for every answer `q` can take, as a show-if reads them: each
    score or choice, all choices ticked at once, none (skipped) when optional."""
    given: list[object]
    codes = [c.code for c in q.choices]
    if q.kind in SCALES:
        given = list(SCALES[q.kind])
    elif q.kind == "single":
        given = list(codes)
    else:
        given = [*([c] for c in codes), codes]
    return [*given, None] if q.optional else given


JOINER = "\u200d"  # a format character emoji sequences need (👨‍👩‍👧)


def has_control(raw: str) -> bool:
    """Control characters other than line breaks and tabs: an escape sequence pasted
    from a terminal would leave "[31m" behind if they were merely dropped, so such an
    answer is refused and typed again."""
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in raw)


def clean_text(raw: str) -> str:
    """A free-text answer as kept: tabs as spaces, invisible format characters out
    (the emoji joiner stays), NFC, trimmed."""
    kept = "".join(c for c in unicodedata.normalize("NFC", raw.replace("\t", " ")
                                                    .replace("\r\n", "\n"))
                   if c in "\n" + JOINER or unicodedata.category(c)[0] != "C")
    return kept.strip()

