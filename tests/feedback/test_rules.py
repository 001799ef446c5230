"""The pure rules of requests from the public, table-driven."""

import datetime

import pytest

from dangjian.feedback import rules
from dangjian.feedback.rules import RouteRule, suggest_route

D = datetime.date

RULES = [
    RouteRule(1, 10, "0001", frozenset({"路灯", "照明"})),  # county: lighting anywhere
    RouteRule(2, 11, "00010001", frozenset({"路灯"}), category="complaint"),  # town, complaints
    RouteRule(3, 12, "000100010001", frozenset({"垃圾", "保洁"})),  # branch A
    RouteRule(4, 13, "000100010002", frozenset({"垃圾"}), weight=3),  # branch B, heavier
    RouteRule(5, 14, "00010002", frozenset({"停车", "车位"})),  # other town
    RouteRule(6, 15, "00010002", frozenset({"照明"})),  # other town, lighting too
]


@pytest.mark.parametrize(
    ("words", "category", "within", "org"),
    [
        (["小区", "路灯", "坏", "了"], "help", "", 10),  # one keyword, general rule
        (["小区", "路灯", "坏", "了"], "complaint", "", 11),  # the category rule beats it
        (["路灯", "照明", "不足"], "complaint", "", 10),  # two keywords outscore one
        (["垃圾", "没人", "保洁"], "help", "", 13),  # one keyword × 3 beats two × 1
        (["垃圾", "堆放"], "help", "", 13),  # the weight: 3 beats 1
        (["垃圾", "堆放"], "help", "000100010001", 12),  # within branch A only
        (["停车", "难"], "opinion", "00010001", None),  # other town's rule is out of the place
        (["今天", "天气", "很好"], "praise", "", None),  # nothing matches
        ([], "help", "", None),
        (["路灯"], "opinion", "00010002", None),  # the county's rule lies above the place
        (["照明"], "opinion", "", 15),  # a tie of score 1: the deeper organisation
        (["照明"], "opinion", "00010001", None),
    ],
)
def test_suggest_route(words, category, within, org):
    route = suggest_route(words, category, RULES, within)
    assert (route.org_id if route else None) == org


def test_the_route_says_which_words_matched():
    route = suggest_route(["垃圾", "保洁", "清理"], "help", RULES, "000100010001")
    assert route.matched == ("保洁", "垃圾") and route.rule_id == 3 and route.score == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("路灯 照明", {"路灯", "照明"}),
        ("路灯,照明，垃圾、保洁;停车；车位", {"路灯", "照明", "垃圾", "保洁", "停车", "车位"}),
        ("  ", set()),
        ("WiFi", {"wifi"}),
    ],
)
def test_parse_keywords(text, words):
    assert rules.parse_keywords(text) == words


@pytest.mark.parametrize(
    ("category", "ack", "answer"),
    [("help", 1, 5), ("complaint", 1, 10), ("opinion", 2, 15), ("praise", 2, 10)],
)
def test_deadline_days_by_category(category, ack, answer):
    assert rules.deadline_days(category, D(2026, 12, 7)) == (ack, answer, "2026")


def test_an_override_wins_and_says_so():
    assert rules.deadline_days("help", D(2026, 12, 7), {"help": (0, 3)}) == (0, 3, "local")


@pytest.mark.parametrize(
    ("category", "overrides"),
    [
        ("nonsense", None),
        ("help", {"help": (5, 3)}),
        ("help", {"help": (1, 0)}),
        ("help", {"help": (1, 61)}),
        ("help", {"help": (-1, 3)}),
    ],
)
def test_bad_deadlines_are_refused(category, overrides):
    with pytest.raises(ValueError):
        rules.deadline_days(category, D(2026, 12, 7), overrides)


@pytest.mark.parametrize(
    ("action", "status", "after"),
    [
        ("accept", "received", "accepted"),
        ("accept", "accepted", None),
        ("answer", "received", "answered"),
        ("answer", "answered", "answered"),  # a better answer replaces the first
        ("answer", "closed", None),
        ("close", "in_progress", None),
        ("close", "answered", "closed"),
        ("forward", "in_progress", "received"),
        ("reject", "answered", None),
        ("rate", "received", None),
        ("rate", "answered", "answered"),
        ("reopen", "closed", "in_progress"),
        ("merge", "closed", None),
        ("add", "rejected", None),
    ],
)
def test_the_life_cycle(action, status, after):
    assert rules.next_status(action, status) == after


@pytest.mark.parametrize(
    ("rating", "reopened", "may"), [(1, 0, True), (2, 0, True), (3, 0, False), (1, 1, False)]
)
def test_only_an_unsatisfied_rating_reopens_once(rating, reopened, may):
    assert rules.may_reopen(rating, reopened) is may


def test_tracking_numbers_and_codes():
    assert rules.tracking_number(D(2026, 12, 7), draw=lambda n: 48213) == "20261207-048213"
    code = rules.check_code()
    assert len(code) == 6 and set(code) <= set(rules.CODE_ALPHABET)
    assert not set("01OIL") & set(rules.CODE_ALPHABET)


@pytest.mark.parametrize(
    ("given", "number"),
    [
        ("20261207-048213", "20261207-048213"),
        ("20261207048213", "20261207-048213"),
        (" 2026 1207 048213 ", "20261207-048213"),
        ("２０２６１２０７－０４８２１３", "20261207-048213"),
        ("abc", "abc"),
    ],
)
def test_numbers_as_people_type_them(given, number):
    assert rules.normalise_number(given) == number


@pytest.mark.parametrize(
    ("due", "done", "state"),
    [
        (None, False, "done"),
        (10, True, "done"),
        (-1, False, "overdue"),
        (5, False, "soon"),
        (48, False, "ok"),
    ],
)
def test_due_state(due, done, state):
    now = datetime.datetime(2026, 12, 7, 10)
    at = None if due is None else now + datetime.timedelta(hours=due)
    assert rules.due_state(at, done, now) == state
