"""Where buttons are typed as numbers (WeChat, the console), a score is typed as itself:
"0" is a score of 0 and "10" a score of 10, not the first and tenth buttons; the other
buttons under the question keep their numbers, after the scores."""

from __future__ import annotations

from bot.console import format_reply
from bot.wechat import render as wechat_render
from handlers.engine import answers
from handlers.engine.render import dump, load, render
from handlers.engine.types import Reply, Text, button, value_button

COUNTER = Text("survey.counter", {"number": 1, "total": 1})


def question() -> Reply:
    scores = tuple(value_button(Text("survey.score", {"score": n}), f"sv:1:q:{n}", n)
                   for n in range(11))
    return Reply("survey.question_nps", {"progress": COUNTER, "text": "How likely?"},
                 (scores[:6], scores[6:], (button("survey.skip", "svs:1:q"),
                                           button("survey.off", "svoff:1"))))


def test_a_typed_score_presses_its_own_button_and_other_numbers_their_place():
    shown = question()
    offered, kinds = shown.actions, answers.kinds(shown)
    assert answers.pressed("0", offered, kinds) == "sv:1:q:0"
    assert answers.pressed("10", offered, kinds) == "sv:1:q:10"
    assert answers.pressed("１０", offered, kinds) == "sv:1:q:10"  # full-width digits
    assert answers.pressed("12", offered, kinds) == "svs:1:q"
    assert answers.pressed("13", offered, kinds) == "svoff:1"
    assert answers.pressed("14", offered, kinds) is None
    assert answers.pressed("skip", offered, kinds) == "svs:1:q"


def test_wechat_and_the_console_show_scores_as_what_to_type():
    rendered = load(dump(render(question(), "en")))  # as recorded and sent again
    assert rendered.values == tuple(f"sv:1:q:{n}" for n in range(11))
    text = wechat_render.as_text(rendered, "en")
    assert "\n0  1  2  3  4  5  6  7  8  9  10\n12. Skip\n13. No more surveys\n" in text
    console = format_reply(rendered, "en")
    assert "[0]  [1]" in console and "[10]  [12] Skip  [13] No more surveys" in console


def test_a_big_file_is_sent_but_not_kept_in_the_recorded_answer():
    big = Reply("survey.question_text", {"progress": COUNTER, "text": "t", "most": 5},
                file=("survey.csv", b"x" * (300 * 1024)))
    small = Reply("survey.question_text", {"progress": COUNTER, "text": "t", "most": 5},
                  file=("survey.csv", b"member\r\n"))
    assert render(big, "en").file is not None
    assert load(dump(render(big, "en"))).file is None
    assert load(dump(render(small, "en"))).file == ("survey.csv", b"member\r\n")


def test_the_console_saves_a_file_it_is_sent(tmp_path):
    sent = render(Reply("survey.question_text", {"progress": COUNTER, "text": "t",
                                                 "most": 5},
                        file=("survey-nps.csv", "\ufeffmember\r\n00000002\r\n".encode())), "en")
    shown = format_reply(sent, "en", images=tmp_path)
    (saved,) = tmp_path.glob("survey-nps-*.csv")
    assert f"File saved to {saved}" in shown
    assert saved.read_bytes() == sent.file[1]
    assert format_reply(sent, "zh_Hans", images=tmp_path).endswith(f"文件已保存到 {saved}")
