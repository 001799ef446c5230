"""A meeting's record as Word and PDF, the minute book of a year, the appraisal page and planning
the year: what they say, who may have them (alice, oscar, bob, anonymous), and query counts that
stay the same as meetings and members grow."""

import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.meetings import documents, selectors, services
from dangjian.meetings.documents import Paragraph, Rule, Table, minutes_blocks
from dangjian.meetings.models import Conclusion, Meeting
from tests.members.test_export_pdf import assert_cjk_pdf, pages

from .conftest import at

pytestmark = pytest.mark.django_db

MINUTES = (
    "<p>张书记传达了<b>上级精神</b>，大家<em>认真</em>讨论。</p>"
    "<ol><li>接收张三为预备党员</li><li><p>安排<strong>下季度</strong>工作</p></li></ol>"
    "<ul><li>其他事项</li></ul>"
    "<table><tr><th>事项</th><th>负责人</th></tr><tr><td>学习</td><td>王五</td></tr></table>"
)


@pytest.fixture
def client_for(client_for):
    """The pages in English, so the messages asserted below stay the msgids."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


def hold(meeting, actor, *, present=(), leave=(), minutes=MINUTES, resolution="接收张三为预备党员"):
    """Attendance by name, minutes, a resolution (all voters present vote yes), held."""
    ids = {a.name: a.pk for a in meeting.attendees.all()}
    states = {ids[n]: "present" for n in present} | {ids[n]: "leave" for n in leave}
    services.set_attendance(actor=actor, meeting=meeting, states=states)
    services.save_minutes(actor=actor, meeting=meeting, html=minutes)
    if resolution and meeting.activity_type.votes:
        voters = meeting.attendees.filter(may_vote=True, state="present").count()
        services.add_resolution(
            actor=actor, meeting=meeting, title=resolution, yes=voters, no=0, abstain=0
        )
    return services.mark_held(actor=actor, meeting=meeting)


@pytest.fixture
def held(meeting, people, roster):
    services.update(
        actor=people["alice"], meeting=meeting, agenda="一、传达上级精神\n\n二、讨论接收预备党员"
    )
    return hold(meeting, people["alice"], present=("张三", "王五"), leave=("李四",))


def docx_document(data: bytes):
    from docx import Document

    return Document(io.BytesIO(data))


def docx_text(data: bytes) -> str:
    document = docx_document(data)
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


# The record of one meeting ---------------------------------------------------------------------


def test_the_record_in_word_says_topic_people_and_outcome(held, people, client_for):
    response = client_for(people["alice"]).get(reverse("meetings:record_docx", args=[held.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == documents.DOCX_TYPE
    assert "attachment" in response["Content-Disposition"]
    text = docx_text(response.content)
    for words in (
        "会议记录",
        "讨论发展党员",
        "东街社区党支部",
        "支部党员大会",
        "党员活动室",
        "一、传达上级精神\n二、讨论接收预备党员",  # the agenda, as typed
        "2人：张三、王五",  # present
        "1人：李四",  # on leave
        "有效",
        "接收张三为预备党员",
        "表决结果：通过",
        "主持人（签字）",
    ):
        assert words in text, words


def test_minutes_in_word_keep_bold_italic_lists_and_tables(held, people, client_for):
    data = client_for(people["alice"]).get(reverse("meetings:record_docx", args=[held.pk])).content
    document = docx_document(data)
    runs = [run for p in document.paragraphs for run in p.runs]
    bold = {run.text for run in runs if run.bold}
    italic = {run.text for run in runs if run.italic}
    assert "上级精神" in bold and "下季度" in bold and "认真" in italic
    assert "张书记传达了" not in bold
    lines = [p.text for p in document.paragraphs]
    assert "1. 接收张三为预备党员" in lines and "2. 安排下季度工作" in lines
    assert "• 其他事项" in lines
    assert any(t.cell(1, 1).text == "王五" for t in document.tables)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a <b>b</b> c</p>", [[("a ", False), ("b", True), (" c", False)]]),
        ("<p>一<br>二</p>", [[("一", False), ("\n", False), ("二", False)]]),
        ("text outside", [[("text outside", False)]]),
        ("<p>\n  spaced \n out </p>", [[("spaced out", False)]]),
        ("<p></p><p> </p>", []),
        ("<p>&lt;b&gt; &amp; 😀</p>", [[("<b> & 😀", False)]]),
    ],
)
def test_minutes_converter(html, expected):
    blocks = minutes_blocks(html)
    assert [[(r.text, r.bold) for r in b.runs] for b in blocks] == expected


def test_minutes_converter_numbers_each_list_afresh_and_nests():
    blocks = minutes_blocks(
        "<ol><li>a<ul><li>b</li></ul></li><li>c</li></ol><hr><ol><li>d</li></ol>"
        "<blockquote><p>q</p></blockquote><h3>h</h3>"
    )
    shape = [
        (b.prefix, b.level, b.quote, b.kind, b.text) if isinstance(b, Paragraph) else type(b)
        for b in blocks
    ]
    assert shape == [
        ("1. ", 1, 0, "li", "a"),
        ("• ", 2, 0, "li", "b"),
        ("2. ", 1, 0, "li", "c"),
        Rule,
        ("1. ", 1, 0, "li", "d"),
        ("", 0, 1, "p", "q"),
        ("", 0, 0, "h3", "h"),
    ]
    (table,) = minutes_blocks("<table><tr><td><b>x</b></td><td>y<br>z</td></tr></table>")
    assert isinstance(table, Table)
    assert [[(c.runs[0].text, c.runs[0].bold) for c in row] for row in table.rows] == [
        [("x", True), ("y", False)]
    ]
    assert "".join(r.text for r in table.rows[0][1].runs) == "y\nz"


def test_control_characters_in_stored_minutes_still_print(held, people):
    Meeting.objects.filter(pk=held.pk).update(minutes="<p>坏\x01字符\ufffe</p>")
    text = docx_text(documents.record_docx(held))
    assert "坏字符" in text


def test_the_record_as_pdf_draws_chinese_with_an_embedded_font(held, people, client_for):
    response = client_for(people["oscar"]).get(reverse("meetings:record_pdf", args=[held.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert_cjk_pdf(response.content, "会议记录讨论发展党员张三王五李四上级精神通过主持人")


def test_a_lecture_record_names_the_lecturer(people, tree, types, roster):
    lecture = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["lecture"],
        topic="专题党课",
        starts_at=at(-1),
        lecturer="王书记",
        lecture_title="学习新党章",
        online_link="https://meeting.example.cn/123",
    )
    fields = dict(
        documents.record_values(documents._loaded(Meeting.objects).get(pk=lecture.pk))["fields"]
    )
    assert fields["主讲人"] == "王书记" and fields["党课题目"] == "学习新党章"
    assert fields["会议类型"] == "党课" and fields["线上会议"] == "https://meeting.example.cn/123"
    assert "会议是否有效" not in fields  # a lecture does not vote
    assert fields["未登记"].startswith("3人")


def test_a_blank_record_before_attendance_says_nothing_of_validity(meeting, people):
    values = documents.record_values(documents._loaded(Meeting.objects).get(pk=meeting.pk))
    assert "会议是否有效" not in dict(values["fields"]) and values["title"] == "会议记录"
    services.cancel(actor=people["alice"], meeting=meeting)
    values = documents.record_values(documents._loaded(Meeting.objects).get(pk=meeting.pk))
    assert values["title"] == "会议记录（已取消）"


@pytest.mark.parametrize("name", ["record_pdf", "record_docx"])
def test_documents_only_inside_the_scope(held, people, client_for, client, name):
    url = reverse(f"meetings:{name}", args=[held.pk])
    assert client_for(people["bob"]).get(url).status_code == 404
    assert (
        client_for(people["bob"]).get(reverse(f"meetings:{name}", args=[999999])).status_code == 404
    )
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "login" in anonymous.url


# The minute book ---------------------------------------------------------------------------------


def past_meeting(people, tree, types, when, topic, code="theme_day"):
    return services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types[code],
        topic=topic,
        starts_at=timezone.make_aware(when),
    )


@pytest.fixture
def last_year():
    return timezone.localdate().year - 1


@pytest.fixture
def book_meetings(people, tree, types, roster, last_year):
    """Last year in branch A: three held (out of date order), one cancelled, one left planned;
    one held the year before and one held in branch B."""
    alice = people["alice"]
    y = last_year
    made = {}
    for topic, when in (
        ("九月主题党日", datetime.datetime(y, 9, 10, 9)),
        ("三月主题党日", datetime.datetime(y, 3, 10, 9)),
        ("六月主题党日", datetime.datetime(y, 6, 10, 9)),
    ):
        made[topic] = hold(past_meeting(people, tree, types, when, topic), alice, present=("张三",))
    services.cancel(
        actor=alice,
        meeting=past_meeting(people, tree, types, datetime.datetime(y, 4, 1, 9), "取消的会"),
    )
    past_meeting(people, tree, types, datetime.datetime(y, 5, 1, 9), "没开的会")
    hold(
        past_meeting(people, tree, types, datetime.datetime(y - 1, 12, 1, 9), "前年的会"),
        alice,
        present=("张三",),
    )
    other = services.schedule(
        actor=people["bob"],
        organization=tree["branch_b"],
        activity_type=types["theme_day"],
        topic="西街的会",
        starts_at=timezone.make_aware(datetime.datetime(y, 3, 11, 9)),
    )
    services.mark_held(actor=people["bob"], meeting=other)
    return made


@pytest.fixture
def captured_html(monkeypatch):
    """The HTML the PDF would be drawn from (drawing is slow and asserted elsewhere)."""
    drawn = []

    def fake(html):
        drawn.append(html)
        return b"%PDF-fake"

    monkeypatch.setattr(documents, "_pdf", fake)
    return drawn


def book_url(org, year):
    return f"{reverse('meetings:book_pdf')}?org={org.pk}&year={year}"


def test_the_minute_book_has_each_held_meeting_of_the_year_in_date_order(
    book_meetings, people, tree, last_year, client_for, captured_html
):
    response = client_for(people["alice"]).get(book_url(tree["branch_a"], last_year))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    (html,) = captured_html
    assert html.count("data-meeting=") == 3
    order = [
        html.index(f'data-meeting="{book_meetings[t].pk}"')
        for t in ("三月主题党日", "六月主题党日", "九月主题党日")
    ]
    assert order == sorted(order)
    for absent in ("取消的会", "没开的会", "前年的会", "西街的会"):
        assert absent not in html
    assert "会议记录本" in html and "目　录" in html and "共召开并记录会议3次" in html
    assert "本册只收录" not in html


def test_the_minute_book_is_a_pdf_with_cover_contents_and_records(
    book_meetings, people, tree, last_year
):
    data = documents.minute_book_pdf(
        tree["branch_a"],
        last_year,
        selectors.meetings(people["alice"]).filter(
            organization=tree["branch_a"], starts_at__year=last_year
        ),
    )
    assert data.startswith(b"%PDF")
    assert pages(data) >= 5  # cover, contents, three records
    assert_cjk_pdf(data, "会议记录本东街社区党支部目录三月主题党日九月")


def test_the_minute_book_says_when_it_was_cut(
    book_meetings, people, tree, last_year, client_for, captured_html, monkeypatch
):
    monkeypatch.setattr(documents, "BOOK_LIMIT", 2)
    client_for(people["alice"]).get(book_url(tree["branch_a"], last_year))
    (html,) = captured_html
    assert html.count("data-meeting=") == 2
    assert "本册只收录前2次会议（共3次）" in html


def test_the_minute_book_inside_the_scope_only(
    book_meetings, people, tree, last_year, client_for, client, captured_html
):
    assert client_for(people["bob"]).get(book_url(tree["branch_a"], last_year)).status_code == 404
    assert client_for(people["oscar"]).get(book_url(tree["branch_a"], last_year)).status_code == 200
    alice = client_for(people["alice"])
    assert alice.get(f"{reverse('meetings:book_pdf')}?org=x").status_code == 404
    assert (
        alice.get(
            f"{reverse('meetings:book_pdf')}?org={tree['branch_a'].pk}&year=99999"
        ).status_code
        == 404
    )
    anonymous = client.get(book_url(tree["branch_a"], last_year))
    assert anonymous.status_code == 302 and "login" in anonymous.url
    # no organisation asked for: where alice's scope starts, this year
    assert alice.get(reverse("meetings:book_pdf")).status_code == 200


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_minute_book_costs_the_same_queries_for_more_meetings(
    people, tree, types, roster, make_member, last_year, client_for, captured_html
):
    alice = client_for(people["alice"])
    url = book_url(tree["branch_a"], last_year)
    hold(
        past_meeting(people, tree, types, datetime.datetime(last_year, 1, 5, 9), "一"),
        people["alice"],
        present=("张三",),
    )
    few = queries(alice, url)
    for i in range(4):
        make_member(tree["branch_a"], f"新党员{i}")
    for month in range(2, 7):
        m = past_meeting(
            people,
            tree,
            types,
            datetime.datetime(last_year, month, 5, 9),
            f"会{month}",
            "general_meeting",
        )
        hold(m, people["alice"], present=("张三", "王五", "新党员0", "新党员1"))
    assert queries(alice, url) == few
    assert captured_html[-1].count("data-meeting=") == 6


# Appraisal ---------------------------------------------------------------------------------------


@pytest.fixture
def appraisal(people, tree, types, roster, accounts):
    meeting = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["appraisal"],
        topic="年度民主评议党员",
        starts_at=at(-1, 9),
    )
    services.self_assess(user=accounts["zhang"], meeting=meeting, text="认真履行党员义务")
    services.rate_peer(
        user=accounts["wang"], meeting=meeting, member=roster["zhang"], grade="excellent"
    )
    services.rate_peer(
        user=accounts["li"], meeting=meeting, member=roster["zhang"], grade="qualified"
    )
    return meeting


def test_grades_are_not_counted_while_people_rate(appraisal, people, client_for):
    response = client_for(people["alice"]).get(reverse("meetings:appraisal", args=[appraisal.pk]))
    rows = {r["member"].name: r for r in response.context["rows"]}
    assert rows["张三"]["grade_counts"] is None and rows["张三"]["suggested"] is None
    assert 'data-testid="not-counted"' in response.content.decode()


def test_the_appraisal_page_counts_grades_without_saying_who(appraisal, people, roster, client_for):
    appraisal = services.mark_held(actor=people["alice"], meeting=appraisal)
    response = client_for(people["alice"]).get(reverse("meetings:appraisal", args=[appraisal.pk]))
    assert response.status_code == 200
    rows = {r["member"].name: r for r in response.context["rows"]}
    assert set(rows) == {"张三", "李四", "王五"}
    assert rows["张三"]["grade_counts"] == [1, 1, 0, 0]
    assert rows["张三"]["suggested"] == "excellent" and rows["张三"]["self"] == "认真履行党员义务"
    # what a row holds: nothing names a rater
    assert set(rows["张三"]) == {
        "member",
        "self",
        "counts",
        "rated",
        "suggested",
        "conclusion",
        "note",
        "mine",
        "grade_counts",
    }
    page = response.content.decode()
    assert "认真履行党员义务" in page and 'data-testid="conclude-' in page
    assert response.context["may_conclude"]


def test_a_conclusion_is_saved_and_counted(appraisal, people, roster, client_for):
    url = reverse("meetings:appraisal", args=[appraisal.pk])
    oscar = client_for(people["oscar"])
    response = oscar.post(
        url, {"member": roster["zhang"].pk, "grade": "excellent", "note": "表现突出"}
    )
    assert response.status_code == 302 and response.url.endswith(f"#member-{roster['zhang'].pk}")
    client_for(people["alice"]).post(url, {"member": roster["wang"].pk, "grade": "qualified"})
    found = dict(Conclusion.objects.filter(meeting=appraisal).values_list("member__name", "grade"))
    assert found == {"张三": "excellent", "王五": "qualified"}
    page = oscar.get(url)
    # excellent, qualified, basically qualified, unqualified
    assert [n for _label, n in page.context["totals"]] == [1, 1, 0, 0]
    assert page.context["undecided"] == 1
    assert {d["grade"]: d["value"] for d in page.context["chart"]["data"]} == {
        "excellent": 1,
        "qualified": 1,
        "": 1,
    }
    assert "表现突出" in page.content.decode()
    assert "vendor/echarts.min.js" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grade": "best"}, "Choose a grade."),
        ({"grade": ""}, "Choose a grade."),
        ({"member": "x", "grade": "excellent"}, "Choose a member of the organisation."),
        ({"member": "0", "grade": "excellent"}, "Choose a member of the organisation."),
    ],
)
def test_a_bad_conclusion_is_refused_on_the_page(
    appraisal, people, roster, client_for, data, message
):
    data = {"member": roster["zhang"].pk} | data
    response = client_for(people["alice"]).post(
        reverse("meetings:appraisal", args=[appraisal.pk]), data
    )
    assert response.status_code == 400
    assert response.context["error"] == message
    assert not Conclusion.objects.exists()


def test_a_member_of_another_branch_is_not_concluded_here(appraisal, people, roster, client_for):
    response = client_for(people["alice"]).post(
        reverse("meetings:appraisal", args=[appraisal.pk]),
        {"member": roster["zhao"].pk, "grade": "excellent"},
    )
    assert response.status_code == 400 and not Conclusion.objects.exists()


def test_the_appraisal_outside_the_scope_or_without_the_right(
    appraisal, people, roster, tree, client_for, client, make_user, admin
):
    url = reverse("meetings:appraisal", args=[appraisal.pk])
    bob = client_for(people["bob"])
    assert bob.get(url).status_code == 404
    assert bob.post(url, {"member": roster["zhang"].pk, "grade": "excellent"}).status_code == 404
    anonymous = client.post(url, {"member": roster["zhang"].pk, "grade": "excellent"})
    assert anonymous.status_code == 302 and "login" in anonymous.url
    assert client.get(url).status_code == 302
    auditor = make_user("audrey")
    core_services.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    audrey = client_for(auditor)
    page = audrey.get(url)
    assert page.status_code == 200 and not page.context["may_conclude"]
    assert 'data-testid="conclude-' not in page.content.decode()
    assert audrey.post(url, {"member": roster["zhang"].pk, "grade": "excellent"}).status_code == 403
    assert not Conclusion.objects.exists()


def test_only_meetings_that_appraise_have_the_page(meeting, people, client_for):
    assert (
        client_for(people["alice"])
        .get(reverse("meetings:appraisal", args=[meeting.pk]))
        .status_code
        == 404
    )


def test_the_appraisal_page_costs_the_same_queries_for_more_members(
    people, tree, types, roster, accounts, make_member, client_for
):
    alice = client_for(people["alice"])

    def appraise():
        m = services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["appraisal"],
            topic="评议",
            starts_at=at(0, 9),
        )
        services.rate_peer(user=accounts["wang"], meeting=m, member=roster["zhang"], grade="basic")
        services.self_assess(user=accounts["zhang"], meeting=m, text="自评")
        services.conclude(actor=people["alice"], meeting=m, member=roster["zhang"], grade="basic")
        return reverse("meetings:appraisal", args=[m.pk])

    few = queries(alice, appraise())
    for i in range(6):
        make_member(tree["branch_a"], f"新党员{i}")
    url = appraise()
    assert len(alice.get(url).context["rows"]) == 9
    assert queries(alice, url) == few


# Plan the year -----------------------------------------------------------------------------------


def plan_url(org, year):
    return f"{reverse('meetings:plan')}?org={org.pk}&year={year}"


def test_plan_the_year_preview_then_plan_then_nothing_more(people, tree, client_for):
    year = timezone.localdate().year + 1
    alice = client_for(people["alice"])
    preview = alice.get(plan_url(tree["branch_a"], year))
    assert preview.status_code == 200
    assert preview.context["total_new"] == 4 + 12 + 4 + 12 + 3
    rows = {r["type"].code: r for r in preview.context["rows"]}
    assert rows["committee_meeting"]["new"] == 12 and "group_meeting" not in rows
    assert [p["state"] for p in rows["general_meeting"]["periods"]] == ["new"] * 4
    assert 'data-testid="plan-form"' in preview.content.decode()

    response = alice.post(
        reverse("meetings:plan"), {"org": tree["branch_a"].pk, "year": year, "day": 10, "hour": 9}
    )
    assert response.status_code == 302
    assert response.url == f"{reverse('meetings:list')}?org={tree['branch_a'].pk}"
    made = Meeting.objects.filter(organization=tree["branch_a"], starts_at__year=year)
    assert made.count() == 35
    first = timezone.localtime(made.order_by("starts_at").first().starts_at)
    assert (first.month, first.day, first.hour) == (1, 10, 9)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [f"35 meetings of {year} were planned."]

    again = alice.post(
        reverse("meetings:plan"), {"org": tree["branch_a"].pk, "year": year, "day": 10, "hour": 9}
    )
    assert [str(m) for m in again.wsgi_request._messages][-1] == (
        "Nothing was planned: every period still to come has a meeting."
    )
    assert Meeting.objects.count() == 35
    after = alice.get(plan_url(tree["branch_a"], year))
    assert after.context["total_new"] == 0
    assert {p["state"] for r in after.context["rows"] for p in r["periods"]} == {"has"}


def test_plan_this_year_leaves_past_periods(people, tree, client_for):
    today = timezone.localdate()
    preview = client_for(people["alice"]).get(plan_url(tree["branch_a"], today.year))
    rows = {r["type"].code: r for r in preview.context["rows"]}
    months = [p["state"] for p in rows["theme_day"]["periods"]]
    assert months == ["past"] * (today.month - 1) + ["new"] * (13 - today.month)


@pytest.mark.parametrize(
    ("day", "hour", "field"),
    [
        ("29", "9", "day"),
        ("x", "9", "day"),
        ("", "9", "day"),
        ("10", "24", "hour"),
        ("10", "-1", "hour"),
    ],
)
def test_plan_refuses_a_bad_day_or_hour(people, tree, client_for, day, hour, field):
    year = timezone.localdate().year + 1
    response = client_for(people["alice"]).post(
        reverse("meetings:plan"),
        {"org": tree["branch_a"].pk, "year": year, "day": day, "hour": hour},
    )
    assert response.status_code == 400 and field in response.context["errors"]
    assert not Meeting.objects.exists()


def test_plan_inside_the_scope_only(people, tree, client_for, client, make_user, admin):
    year = timezone.localdate().year + 1
    bob = client_for(people["bob"])
    assert bob.get(plan_url(tree["branch_a"], year)).status_code == 404
    data = {"org": tree["branch_a"].pk, "year": year, "day": 10, "hour": 9}
    assert bob.post(reverse("meetings:plan"), data).status_code == 404
    anonymous = client.post(reverse("meetings:plan"), data)
    assert anonymous.status_code == 302 and "login" in anonymous.url
    assert client_for(people["alice"]).get(plan_url(tree["branch_a"], year + 5)).status_code == 404
    auditor = make_user("audrey")
    core_services.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    audrey = client_for(auditor)
    page = audrey.get(plan_url(tree["branch_a"], year))
    assert page.status_code == 200 and not page.context["may_plan"]
    assert audrey.post(reverse("meetings:plan"), data).status_code == 403
    assert not Meeting.objects.exists()
    # oscar opens on the township, which holds none itself: its branches are offered
    oscar = client_for(people["oscar"]).get(reverse("meetings:plan"))
    assert oscar.status_code == 200 and oscar.context["rows"] == []
    assert {c.name for c in oscar.context["children"]} == {"东街社区党支部", "西街社区党支部"}
