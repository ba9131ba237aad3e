"""The words of a survey being built in chat: what an operator typed, checked before it
is kept, and the whole survey shown as members will see it, in each language.

The draft is plain JSON in the conversation (a SurveyDef as a dict, being filled in),
so a restart finds it where it was; domain.feedback.building checks it whole at the end.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from annotated_types import MaxLen

from domain.feedback.definitions import SCALES, SurveyDef
from domain.wording import Words
from handlers.campaigns.words import LANGUAGES
from handlers.engine.i18n import translate
from handlers.engine.types import Local, Reply, Text, reply

# The longest wording a survey may have in one language: a title, intro, question or
# choice label (as domain.wording.Words allows, the file's limit too).
WORDS_MOST = next(m.max_length for m in Words.model_fields["en"].metadata
                  if isinstance(m, MaxLen))
SCORED = tuple(SCALES)  # rating, nps
CHOOSING = ("single", "multiple")
LABEL_SEPARATORS = re.compile("[;；|｜]")


# Spaces (Unicode's Zs) and line breaks: trimmed from the ends of what is typed. Every
# other invisible character (a tab, a zero-width space, a direction mark) is refused
# wherever it is, at every step, never dropped unseen.
BLANK_ENDS = re.compile("^[\n \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+|"
                        "[\n \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+$")
JOINER = "\u200d"  # inside emoji sequences (👨‍🍳): kept
HIDDEN = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def trimmed(raw: str) -> str:
    """What was typed, NFC, its line endings as "\\n", spaces and line breaks at its
    ends trimmed; nothing else taken out."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    return BLANK_ENDS.sub("", text)


def hidden(text: str, lines: bool = False) -> bool:
    """Whether `text` holds a control or format character, or a line or paragraph
    separator (a line break only where `lines` allows them)."""
    return any(unicodedata.category(c) in HIDDEN and c != JOINER
               and not (lines and c == "\n") for c in text)


def line(raw: str) -> tuple[str, Reply | None]:
    """A typed line (a code, points, a date) as the step reads it, or why it cannot:
    a control character or a line break is refused as in any other words."""
    text = trimmed(raw)
    return text, reply("survey_new.control") if hidden(text) else None


def cleaned(raw: str, lines: bool) -> tuple[str, Reply | None]:
    """Typed words as kept (NFC, trimmed), or why they cannot be: empty, a control
    character (a line break only where `lines`), too long."""
    text = trimmed(raw)
    if not text:
        return text, reply("survey_new.empty")
    if hidden(text, lines):
        return text, reply("survey_new.control")
    if len(text) > WORDS_MOST:
        return text, reply("survey_new.too_long", most=WORDS_MOST, got=len(text))
    return text, None


def labels(raw: str, most: int) -> tuple[list[str], Reply | None]:
    """Choice labels typed one per line (blank lines ignored), or on one line between
    semicolons or bars, as a chat that sends each line on Enter (WeChat, the console)
    leaves no other way; or why they cannot be. Commas stay in a label ("Yes, often")."""
    text, problem = cleaned(raw, lines=True)
    if problem is not None:
        return [], problem
    found = [line.strip() for line in text.split("\n") if line.strip()]
    if len(found) == 1:
        found = [part.strip() for part in LABEL_SEPARATORS.split(found[0]) if part.strip()]
    if len(found) < 2:
        return found, reply("survey_new.labels_few")
    if len(found) > most:
        return found, reply("survey_new.labels_many", most=most, got=len(found))
    # "Tea" and "tea " (or a full-width "Ｔｅａ") are one choice to a member reading them.
    if len({unicodedata.normalize("NFKC", label).casefold() for label in found}) != len(found):
        return found, reply("survey_new.labels_twice")
    return found, None


def choices(written: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Labels per language -> the question's choices, coded c1, c2... in order."""
    first = next(iter(written.values()))
    return [{"code": f"c{i + 1}", "label": {lang: written[lang][i] for lang in written}}
            for i in range(len(first))]


def short(words: dict[str, str], most: int = 40) -> Local:
    """Wording in each language, cut to `most` characters for a button."""
    return Local({lang: text if len(text) <= most else text[:most - 1] + "…"
                  for lang, text in words.items()})


def condition(rule: dict[str, Any], questions: list[dict[str, Any]]) -> Text:
    """A show-if in words: "only if the answer to question 1 is 3 or less", "... is Tea
    or Coffee", "... include Tea or Coffee" (a question of several choices)."""
    codes = [q["code"] for q in questions]
    number = codes.index(rule["question"]) + 1 if rule["question"] in codes else 0
    if rule.get("any_of"):
        earlier = questions[number - 1]
        names = [Local(c["label"]) for c in earlier["choices"] if c["code"] in rule["any_of"]]
        key = "survey_new.if_includes" if earlier["kind"] == "multiple" else "survey_new.if_any"
        return Text(key, {"number": number, "choices": _or(names)})
    if rule.get("at_most") is not None:
        return Text("survey_new.if_most", {"number": number, "score": rule["at_most"]})
    return Text("survey_new.if_least", {"number": number, "score": rule["at_least"]})


def _or(names: list[Any]) -> Any:
    if len(names) == 1:
        return names[0]
    return Text("survey_new.or", {"first": _or(names[:-1]), "last": names[-1]})


def preview(definition: SurveyDef, reward: Any, closes: date | None,
            language: str) -> Reply:
    """The survey as a member reading `language` meets it: its intro, then each
    question as it is asked, with its choices and when it is asked."""
    questions = [q.model_dump(mode="json") for q in definition.questions]
    parts = [translate(Text("survey.intro", {"title": definition.title.get(language),
                                             "intro": definition.intro.get(language)}),
                       language)]
    total = len(definition.questions)
    for number, q in enumerate(definition.questions, start=1):
        key = "survey.question_text" if q.kind == "text" else f"survey.question_{q.kind}"
        counter = Text("survey.counter", {"number": number, "total": total})
        lines = [translate(Text(key, {"progress": counter, "text": q.text.get(language),
                                      "most": q.max_length}), language)]
        if q.kind in CHOOSING:
            lines.append(" · ".join(c.label.get(language) for c in q.choices))
        elif q.kind in SCORED:
            lines.append(translate(Text(f"survey_new.scale.{q.kind}"), language))
        if q.optional:
            lines.append(translate(Text("survey_new.optional_mark"), language))
        if q.show_if is not None:
            lines.append(translate(condition(q.show_if.model_dump(mode="json"), questions),
                                   language))
        parts.append("\n".join(lines))
    parts.append(translate(reward, language))
    if closes is not None:
        parts.append(translate(Text("survey_new.closes_on", {"day": closes}), language))
    return reply("survey_new.preview", language=LANGUAGES[language],
                 body="\n\n".join(parts))
