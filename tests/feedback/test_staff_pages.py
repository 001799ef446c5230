"""The staff pages of requests from the public (inbox, request, figures, settings) as alice
(secretary of branch A, where the request lies), oscar (organisation administrator of the
township above A and B), bob (secretary of the sibling branch B) and someone not logged in."""

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.feedback import services
from dangjian.feedback.models import DeadlinePolicy, Desk, Entry, PublicRequest, RoutingRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def en(client_for):
    """A logged-in client that reads the pages in English (messages asserted as msgids)."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


@pytest.fixture
def req(submit, png_bytes):
    """A request at branch A's desk, with a contact and a photo."""
    photo = SimpleUploadedFile("lamp.jpg", png_bytes, content_type="image/jpeg")
    found, _code = submit(
        name="王大妈",
        phone="13812345678",
        email="wang@example.cn",
        consent_contact=True,
        allow_public=True,
        photo_files=[photo],
    )
    return found


def body(response) -> str:
    return response.content.decode()


def state():
    """Everything a refused or failed action must leave as it was."""
    return (
        list(
            PublicRequest.objects.order_by("pk").values_list(
                "pk", "status", "organization_id", "assignee_id", "public_reply", "featured"
            )
        ),
        Entry.objects.count(),
        AuditEvent.objects.count(),
    )


def act(pk, action) -> str:
    return reverse("feedback:act", args=[pk, action])


# Valid data for every action of the request's page.
def action_data(tree) -> dict:
    return {
        "accept": {},
        "start": {},
        "assign": {"assignee": ""},
        "note": {"text": "已电话联系"},
        "forward": {"to_org": tree["branch_b"].pk, "reason": "属西街管辖"},
        "merge": {"into": "20260101-000000"},
        "answer": {"reply": "已修好。", "signed": ""},
        "close": {},
        "reject": {"reason": "不属于受理范围"},
        "feature": {"featured": "on"},
    }


# Who may come in ---------------------------------------------------------------------------------


def staff_url_names() -> list[str]:
    from django.urls import URLPattern

    from dangjian.feedback import urls

    return [f"feedback:{p.name}" for p in urls.urlpatterns if isinstance(p, URLPattern)]


def url_args(name, req, desks, rule) -> list:
    return {
        "feedback:detail": [req.pk],
        "feedback:photo": [req.pk, req.photos.get().pk],
        "feedback:reveal": [req.pk],
        "feedback:act": [req.pk, "accept"],
        "feedback:desk_edit": [desks["a"].pk],
        "feedback:desk_poster": [desks["a"].pk],
        "feedback:rule_edit": [rule.pk],
        "feedback:rule_delete": [rule.pk],
    }.get(name, [])


@pytest.mark.parametrize("name", staff_url_names())
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_log_in(client, req, desks, tree, admin, name, method):
    rule = services.save_routing_rule(actor=admin, organization=tree["branch_a"], keywords="路灯")
    before = state(), RoutingRule.objects.count(), Desk.objects.count()
    url = reverse(name, args=url_args(name, req, desks, rule))
    response = getattr(client, method)(url, {"text": "路灯", "category": "help"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login") + "?next=")
    assert (state(), RoutingRule.objects.count(), Desk.objects.count()) == before


@pytest.mark.parametrize(("who", "code"), [("alice", 200), ("oscar", 200), ("bob", 404)])
def test_the_request_and_its_photo_as_three_people(en, people, req, who, code):
    client = en(people[who])
    assert client.get(reverse("feedback:detail", args=[req.pk])).status_code == code
    photo = req.photos.get()
    response = client.get(reverse("feedback:photo", args=[req.pk, photo.pk]))
    assert response.status_code == code
    if code == 200:
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
        assert "private" in response["Cache-Control"]


def test_a_photo_answers_only_under_its_own_request(en, people, req, submit):
    other, _code = submit(text="另一件事情，楼道灯不亮了")
    photo = req.photos.get()
    alice = en(people["alice"])
    assert alice.get(reverse("feedback:photo", args=[other.pk, photo.pk])).status_code == 404
    page = body(alice.get(reverse("feedback:detail", args=[req.pk])))
    assert reverse("feedback:photo", args=[req.pk, photo.pk]) in page
    assert photo.image.url not in page  # never the public media address


@pytest.mark.parametrize(("who", "listed"), [("alice", True), ("oscar", True), ("bob", False)])
def test_the_inbox_as_three_people(en, people, req, who, listed):
    response = en(people[who]).get(reverse("feedback:inbox"))
    assert response.status_code == 200
    assert [r.pk for r in response.context["page"].object_list] == ([req.pk] if listed else [])
    assert (req.number in body(response)) is listed


ACTIONS = ["accept", "start", "assign", "note", "forward", "merge", "answer", "close", "reject"]


@pytest.mark.parametrize("action", [*ACTIONS, "feature"])
def test_every_action_of_the_sibling_answers_404_and_changes_nothing(en, people, tree, req, action):
    data = action_data(tree)[action]
    before = state()
    response = en(people["bob"]).post(act(req.pk, action), data)
    assert response.status_code == 404
    assert state() == before


def test_the_sibling_cannot_reveal(en, people, req):
    before = state()
    assert en(people["bob"]).post(reverse("feedback:reveal", args=[req.pk])).status_code == 404
    assert state() == before


def test_an_unknown_action_is_404(en, people, req):
    assert en(people["alice"]).post(act(req.pk, "explode")).status_code == 404


def test_the_township_above_may_handle(en, people, req):
    response = en(people["oscar"]).post(act(req.pk, "accept"))
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "accepted"


def test_logged_in_without_a_role_is_404(client_for, make_user, req):
    nobody = client_for(make_user("nobody"))
    assert nobody.get(reverse("feedback:inbox")).status_code == 404
    assert nobody.get(reverse("feedback:figures")).status_code == 404
    assert nobody.get(reverse("feedback:settings")).status_code == 404
    assert nobody.get(reverse("feedback:detail", args=[req.pk])).status_code == 404


# The path of a request through the pages ---------------------------------------------------------


def test_accept_assign_note_answer_close_through_the_pages(en, people, req):
    alice = en(people["alice"])
    url = reverse("feedback:detail", args=[req.pk])
    page = alice.get(url)
    assert page.context["allowed"]["accept"] and not page.context["allowed"]["close"]
    assert 'data-testid="accept"' in body(page)

    assert alice.post(act(req.pk, "accept")).url == url
    req.refresh_from_db()
    assert req.status == "accepted" and req.acknowledged_at is not None

    # alice may give it to the people who handle requests at branch A within her scope
    page = alice.get(url)
    choices = dict(page.context["forms"]["assign"].fields["assignee"].choices)
    assert people["alice"].pk in choices and people["oscar"].pk not in choices
    assert people["bob"].pk not in choices
    assert alice.post(act(req.pk, "assign"), {"assignee": people["alice"].pk}).status_code == 302
    req.refresh_from_db()
    assert req.assignee_id == people["alice"].pk

    response = alice.post(act(req.pk, "note"), {"text": "已联系供电所"})
    assert response.status_code == 302
    response = alice.post(
        act(req.pk, "answer"), {"reply": "路灯今天下午已修复。", "signed": "东街社区"}
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "answered" and req.public_reply == "路灯今天下午已修复。"
    assert req.replied_by == "东街社区"

    assert alice.post(act(req.pk, "close")).status_code == 302
    req.refresh_from_db()
    assert req.status == "closed"

    page = alice.get(url)
    kinds = [e.kind for e in page.context["history"]]
    assert kinds == ["submitted", "accepted", "assigned", "note", "answered", "closed"]
    text = body(page)
    assert "已联系供电所" in text and "internal" in text  # the note, marked as internal
    assert not any(page.context["allowed"][a] for a in ("accept", "answer", "close", "assign"))
    actions = set(
        AuditEvent.objects.filter(object_id=str(req.pk), user_id=people["alice"].pk).values_list(
            "action", flat=True
        )
    )
    assert {"feedback.accept", "feedback.assign", "feedback.note", "feedback.answer"} <= actions


def test_the_township_sees_handlers_at_both_levels(en, people, req):
    page = en(people["oscar"]).get(reverse("feedback:detail", args=[req.pk]))
    choices = dict(page.context["forms"]["assign"].fields["assignee"].choices)
    assert {people["alice"].pk, people["oscar"].pk} <= set(choices)
    assert people["bob"].pk not in choices


def test_assigning_someone_outside_the_list_is_refused(en, people, req):
    before = state()
    response = en(people["alice"]).post(act(req.pk, "assign"), {"assignee": people["bob"].pk})
    assert response.status_code == 400 and state() == before
    assert response.context["forms"]["assign"].errors["assignee"]


def test_forward_through_the_search(en, people, tree, req):
    alice = en(people["alice"])
    found = alice.get(reverse("feedback:targets"), {"q": "西街"})
    assert found.status_code == 200 and f'value="{tree["branch_b"].pk}"' in body(found)
    # without JavaScript: the search answers on the page itself
    page = alice.get(reverse("feedback:detail", args=[req.pk]), {"q": "西街"})
    assert f'value="{tree["branch_b"].pk}"' in body(page)
    response = alice.post(
        act(req.pk, "forward"), {"to_org": tree["branch_b"].pk, "reason": "属西街管辖"}
    )
    # it left alice's scope: she lands on her inbox
    assert response.status_code == 302 and response.url == reverse("feedback:inbox")
    req.refresh_from_db()
    assert req.organization == tree["branch_b"]
    assert en(people["bob"]).get(reverse("feedback:detail", args=[req.pk])).status_code == 200
    assert alice.get(reverse("feedback:detail", args=[req.pk])).status_code == 404


def test_merge_a_duplicate_by_its_number(en, people, req, submit):
    second, _code = submit(text="路灯又坏了，跟上次一样，请尽快修")
    response = en(people["alice"]).post(
        act(second.pk, "merge"), {"into": req.number.replace("-", ""), "note": "同一盏灯"}
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == "merged" and second.merged_into_id == req.pk
    page = en(people["alice"]).get(reverse("feedback:detail", args=[req.pk]))
    assert [d.pk for d in page.context["duplicates"]] == [second.pk]


def test_feature_an_answered_request(en, people, req):
    alice = en(people["alice"])
    services.answer(actor=people["alice"], req=req, reply="已修复。")
    assert alice.post(act(req.pk, "feature"), {"featured": "on"}).status_code == 302
    req.refresh_from_db()
    assert req.featured
    assert alice.post(act(req.pk, "feature"), {}).status_code == 302
    req.refresh_from_db()
    assert not req.featured


def test_feature_is_not_offered_without_the_persons_leave(en, people, submit):
    hidden, _code = submit(allow_public=False)
    services.answer(actor=people["alice"], req=hidden, reply="已修复。")
    alice = en(people["alice"])
    page = alice.get(reverse("feedback:detail", args=[hidden.pk]))
    assert not page.context["allowed"]["feature"]
    before = state()
    response = alice.post(act(hidden.pk, "feature"), {"featured": "on"})
    assert response.status_code == 400 and state() == before
    assert "did not allow" in body(response)


def test_an_auditor_reads_but_is_offered_no_action_and_refused(en, tree, req, make_user, admin):
    auditor = make_user("audrey")
    core_services.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    client = en(auditor)
    page = client.get(reverse("feedback:detail", args=[req.pk]))
    assert page.status_code == 200 and not any(page.context["allowed"].values())
    assert 'data-testid="answer"' not in body(page) and 'data-testid="reveal"' not in body(page)
    before = state()
    response = client.post(act(req.pk, "answer"), {"reply": "好的"})
    assert response.status_code == 403 and state() == before
    assert "You may not do this" in body(response)


# Bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data", "field", "message"),
    [
        ("answer", {"reply": "  ", "signed": ""}, "reply", "This field is required."),
        ("forward", {"to_org": "", "reason": "属西街管辖"}, "to_org", "Choose the organisation"),
        ("note", {"text": ""}, "text", "This field is required."),
        ("reject", {"reason": ""}, "reason", "This field is required."),
        ("merge", {"into": "20200101-123456"}, "into", "No request with this tracking number"),
        ("merge", {"into": ""}, "into", "This field is required."),
    ],
)
def test_bad_input_answers_400_with_the_message_and_changes_nothing(
    en, people, req, action, data, field, message
):
    before = state()
    response = en(people["alice"]).post(act(req.pk, action), data)
    assert response.status_code == 400
    assert state() == before
    form = response.context["forms"][action]
    assert any(message in e for e in form.errors[field])
    assert message in body(response)
    assert response.context["failed"] == action


def test_forward_without_a_reason_keeps_what_was_typed(en, people, tree, req):
    before = state()
    response = en(people["alice"]).post(
        act(req.pk, "forward"), {"to_org": tree["branch_b"].pk, "reason": ""}
    )
    assert response.status_code == 400 and state() == before
    assert response.context["forms"]["forward"].errors["reason"]
    assert response.context["chosen"] == tree["branch_b"]  # the choice is still there
    assert 'data-testid="error-reason"' in body(response)


def test_a_control_character_is_refused_by_the_service_on_its_field(en, people, req):
    before = state()
    response = en(people["alice"]).post(act(req.pk, "answer"), {"reply": "好\x07的", "signed": ""})
    assert response.status_code == 400 and state() == before
    assert "control characters" in str(response.context["forms"]["answer"].errors["reply"])


def test_merge_into_a_request_outside_the_scope_reads_as_unknown(en, people, req, submit):
    theirs, _code = submit(desk="b")
    before = state()
    response = en(people["alice"]).post(act(req.pk, "merge"), {"into": theirs.number})
    assert response.status_code == 400 and state() == before
    assert "No request with this tracking number" in body(response)


def test_an_action_the_status_does_not_allow_is_409(en, people, req):
    before = state()
    response = en(people["alice"]).post(act(req.pk, "close"))
    assert response.status_code == 409 and state() == before
    assert "cannot be done while the request is" in body(response)


# Contact details ---------------------------------------------------------------------------------


def test_contact_is_masked_and_revealed_with_an_audit_event(en, people, req):
    alice = en(people["alice"])
    page = alice.get(reverse("feedback:detail", args=[req.pk]))
    text = body(page)
    assert "138****5678" in text and "13812345678" not in text and "王大妈" not in text
    assert 'data-testid="reveal"' in text
    response = alice.post(reverse("feedback:reveal", args=[req.pk]))
    assert response.status_code == 200
    text = body(response)
    assert "13812345678" in text and "王大妈" in text and "wang@example.cn" in text
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="feedback.reveal")
    assert event.user_id == people["alice"].pk and event.object_id == str(req.pk)


def test_a_committee_member_sees_no_reveal_and_is_refused(en, people, tree, req, make_user, admin):
    member = make_user("cm")
    core_services.assign_role(
        actor=admin, user=member, org=tree["branch_a"], role="committee_member"
    )
    client = en(member)
    page = client.get(reverse("feedback:detail", args=[req.pk]))
    assert page.status_code == 200
    assert 'data-testid="reveal"' not in body(page) and "138****5678" in body(page)
    before = state()
    response = client.post(reverse("feedback:reveal", args=[req.pk]))
    assert response.status_code == 403
    assert "13812345678" not in body(response)
    assert state() == before
    assert not AuditEvent.objects.filter(action="feedback.reveal").exists()


# The inbox ---------------------------------------------------------------------------------------


def test_tabs_count_and_filter(en, people, tree, submit, admin):
    services.save_routing_rule(actor=admin, organization=tree["group_a"], keywords="垃圾")
    lamp, _c = submit()
    rubbish, _c = submit(text="小区门口的垃圾三天没人清理", category="complaint")
    done, _c = submit(text="感谢社区帮忙修好了水管", category="praise")
    services.answer(actor=people["alice"], req=done, reply="谢谢您的肯定。")
    alice = en(people["alice"])
    url = reverse("feedback:inbox")

    response = alice.get(url)
    counts = {code: n for code, _label, n in response.context["tabs"]}
    assert counts["open"] == 2 and counts["new"] == 2 and counts["answered"] == 1
    assert counts["all"] == 3 and counts["overdue"] == 0 and counts["mine"] == 0
    assert 'data-testid="count-answered">1<' in body(response)

    def listed(**params):
        page = alice.get(url, params)
        assert page.status_code == 200
        return {r.pk for r in page.context["page"].object_list}

    assert listed() == {lamp.pk, rubbish.pk}
    assert listed(view="answered") == {done.pk}
    assert listed(view="all", category="complaint") == {rubbish.pk}
    assert listed(view="all", q="水管") == {done.pk}
    assert listed(view="all", q=lamp.number) == {lamp.pk}
    assert listed(view="all", status="answered") == {done.pk}
    assert listed(view="all", org=tree["group_a"].pk) == {rubbish.pk}
    assert listed(view="all", org=tree["branch_a"].pk, exact="on") == {lamp.pk, done.pk}
    assert listed(view="all", org=tree["branch_a"].pk) == {lamp.pk, rubbish.pk, done.pk}
    # an organisation outside the scope is 404, a bad value drops that filter only
    assert alice.get(url, {"org": tree["branch_b"].pk}).status_code == 404
    assert listed(view="all", org="x", category="nonsense") == {lamp.pk, rubbish.pk, done.pk}
    assert listed(view="nonsense") == {lamp.pk, rubbish.pk}


def test_rows_show_their_due_state(en, people, submit):
    late, _c = submit()
    soon, _c = submit(text="楼道里堆满了杂物，影响通行")
    fresh, _c = submit(text="小区健身器材坏了，请派人维修")
    now = timezone.now()
    PublicRequest.objects.filter(pk=late.pk).update(answer_due_at=now - datetime.timedelta(hours=1))
    PublicRequest.objects.filter(pk=soon.pk).update(answer_due_at=now + datetime.timedelta(hours=3))
    response = en(people["alice"]).get(reverse("feedback:inbox"))
    rows = {r.pk: r.due for r in response.context["page"].object_list}
    assert rows == {late.pk: "overdue", soon.pk: "soon", fresh.pk: "ok"}
    counts = {code: n for code, _label, n in response.context["tabs"]}
    assert counts["overdue"] == 1 and counts["soon"] == 1
    text = body(response)
    assert f'data-testid="row-{late.pk}" class="table-danger"' in text
    assert 'data-due="overdue"' in text and 'data-due="soon"' in text


def test_the_inbox_pages_on_the_server(en, people, submit, settings):
    settings.PAGE_SIZE = 2
    made = [submit(text=f"第{i}件事：路灯坏了好几天", ip=f"10.3.0.{i}")[0] for i in range(5)]
    alice = en(people["alice"])
    first = alice.get(reverse("feedback:inbox"))
    assert len(first.context["page"].object_list) == 2
    assert first.context["page"].paginator.num_pages == 3
    last = alice.get(reverse("feedback:inbox"), {"page": 3})
    assert len(last.context["page"].object_list) == 1
    seen = {
        r.pk
        for p in (1, 2, 3)
        for r in alice.get(reverse("feedback:inbox"), {"page": p}).context["page"].object_list
    }
    assert seen == {r.pk for r in made}


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_inbox_costs_the_same_for_2_and_12_rows(
    en, people, submit, admin, tree, django_assert_num_queries
):
    oscar = en(people["oscar"])
    url = reverse("feedback:inbox")
    for desk in ("a", "b"):
        submit(desk=desk)
    _queries(oscar, url)  # warm: jieba, sessions
    few = _queries(oscar, url)
    for i in range(10):
        made, _c = submit(desk="ab"[i % 2], text=f"第{i}件事：楼道灯不亮了", ip=f"10.4.0.{i}")
        services.assign(actor=admin, req=made, user=people["oscar"])
    with django_assert_num_queries(few):
        response = oscar.get(url)
    assert len(response.context["page"].object_list) == 12


# Figures -----------------------------------------------------------------------------------------


@pytest.fixture
def answered(submit, people):
    """Two requests at A (one answered and rated), one at B."""
    a1, _c = submit()
    a2, _c = submit(text="建议在社区增设一处快递柜", category="suggestion")
    b1, _c = submit(desk="b", text="西街菜市场门口垃圾堆积")
    services.answer(actor=people["alice"], req=a1, reply="已修复。")
    services.rate(req=a1, rating=5)
    return {"a1": a1, "a2": a2, "b1": b1}


def test_figures_of_the_township_with_its_branches(en, people, tree, answered):
    response = en(people["oscar"]).get(reverse("feedback:figures"))
    assert response.status_code == 200
    assert response.context["org"] == tree["town"]  # the top of oscar's scope by default
    assert response.context["summary"]["total"] == 3
    rows = {r["org"].pk: r for r in response.context["children"]}
    assert rows[tree["branch_a"].pk]["total"] == 2 and rows[tree["branch_a"].pk]["open"] == 1
    assert rows[tree["branch_a"].pk]["avg_rating"] == 5
    assert rows[tree["branch_b"].pk]["total"] == 1
    # branch A has a group below: a drill-down link; B has none
    assert rows[tree["branch_a"].pk]["drill_url"].endswith(f"?org={tree['branch_a'].pk}")
    assert rows[tree["branch_b"].pk]["drill_url"] is None
    assert rows[tree["branch_b"].pk]["inbox_url"]
    chart = response.context["chart"]
    assert sum(chart["total"]) == 3
    assert {c["value"] for c in chart["categories"]} == {2, 1}
    assert 'id="figures-data"' in body(response)


@pytest.mark.parametrize(("who", "code"), [("alice", 200), ("oscar", 200), ("bob", 404)])
def test_figures_of_branch_a_as_three_people(en, people, tree, answered, who, code):
    client = en(people[who])
    params = {"org": tree["branch_a"].pk}
    assert client.get(reverse("feedback:figures"), params).status_code == code
    assert client.get(reverse("feedback:figures_xlsx"), params).status_code == code


def test_alice_starts_at_her_branch_and_cannot_go_up(en, people, tree, answered):
    alice = en(people["alice"])
    response = alice.get(reverse("feedback:figures"))
    assert response.context["org"] == tree["branch_a"]
    assert response.context["summary"]["total"] == 2
    assert alice.get(reverse("feedback:figures"), {"org": tree["town"].pk}).status_code == 404


def test_the_spreadsheet_holds_the_figures(en, people, tree, answered):
    from openpyxl import load_workbook

    response = en(people["oscar"]).get(reverse("feedback:figures_xlsx"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert "T01" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["Summary", "By month", "By category", "By organisation"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["requests"] == 3 and summary["answered"] == 1 and summary["average rating"] == 5
    orgs = {
        row[1]: row[2:4] for row in book["By organisation"].iter_rows(min_row=3, values_only=True)
    }
    assert orgs["B01"] == (2, 1) and orgs["B02"] == (1, 1)
    months = list(book["By month"].iter_rows(min_row=3, values_only=True))
    assert sum(row[1] for row in months) == 3
    categories = {
        row[0]: row[1] for row in book["By category"].iter_rows(min_row=3, values_only=True)
    }
    assert categories == {"Request for help": 2, "Suggestion": 1}
    # counts only: the export is not an audited disclosure
    assert not AuditEvent.objects.filter(action__contains="export").exists()


def test_a_month_counts_open_requests_past_their_deadline_as_late(en, people, answered):
    late = answered["a2"]
    PublicRequest.objects.filter(pk=late.pk).update(
        answer_due_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = en(people["alice"]).get(reverse("feedback:figures"))
    (month,) = response.context["months"]
    assert (month["total"], month["late"], month["late_share"]) == (2, 1, 50.0)
    assert response.context["summary"]["late_share"] == 50.0
    assert response.context["chart"]["late_share"] == [50.0]


def test_figures_cost_the_same_for_few_and_many(
    en, people, tree, submit, admin, django_assert_num_queries
):
    oscar = en(people["oscar"])
    url = reverse("feedback:figures")
    submit()
    _queries(oscar, url)
    few = _queries(oscar, url)
    for code in ("B03", "B04", "B05"):
        branch = core_services.create_organization(
            actor=admin, parent=tree["town"], code=code, name=f"支部{code}", kind="branch"
        )
        services.save_desk(actor=admin, organization=branch, code=code.lower(), place=code)
        services.submit(
            desk=Desk.objects.get(code=code.lower()), category="help", text="路灯坏了好几天了"
        )
    submit(desk="b", category="opinion")
    with django_assert_num_queries(few):
        response = oscar.get(url)
    assert len(response.context["children"]) == 5
    assert _queries(oscar, reverse("feedback:figures_xlsx")) <= few


# Settings ----------------------------------------------------------------------------------------


def test_alice_sets_up_a_desk_and_prints_its_poster(en, people, tree, desks):
    alice = en(people["alice"])
    page = alice.get(reverse("feedback:settings"))
    assert page.status_code == 200
    assert [d.pk for d in page.context["desks"]] == [desks["a"].pk]  # not B's, not the town's
    form = alice.get(reverse("feedback:desk_new")).context["form"]
    # only organisations of her scope without a desk
    assert [pk for pk, _label in form.fields["organization"].choices] == [tree["group_a"].pk]
    response = alice.post(
        reverse("feedback:desk_new"),
        {"organization": tree["group_a"].pk, "code": "group-one", "place": "一组", "active": "on"},
    )
    assert response.status_code == 302
    desk = Desk.objects.get(code="group-one")
    assert desk.organization == tree["group_a"] and desk.active

    response = alice.post(
        reverse("feedback:desk_edit", args=[desk.pk]),
        {"code": "group-one", "place": "第一组活动室", "intro": "每周三下午有人值班"},
    )
    assert response.status_code == 302
    desk.refresh_from_db()
    assert desk.place == "第一组活动室" and not desk.active

    poster = alice.get(reverse("feedback:desk_poster", args=[desk.pk]))
    assert poster.status_code == 200
    text = body(poster)
    assert "<svg" in text and "第一组活动室" in text
    assert "http://testserver/desk/new/?at=group-one" in text
    assert AuditEvent.objects.filter(action="feedback.desk", user_id=people["alice"].pk).exists()


def test_a_taken_code_comes_back_on_its_field(en, people, tree, desks):
    before = Desk.objects.count()
    response = en(people["alice"]).post(
        reverse("feedback:desk_new"), {"organization": tree["group_a"].pk, "code": "xijie"}
    )
    assert response.status_code == 400 and Desk.objects.count() == before
    assert "This code is taken." in response.context["form"].errors["code"]
    assert 'value="xijie"' in body(response)


@pytest.mark.parametrize(("who", "code"), [("alice", 200), ("oscar", 200), ("bob", 404)])
def test_desk_pages_of_branch_a_as_three_people(en, people, desks, who, code):
    client = en(people[who])
    assert client.get(reverse("feedback:desk_edit", args=[desks["a"].pk])).status_code == code
    assert client.get(reverse("feedback:desk_poster", args=[desks["a"].pk])).status_code == code
    before = Desk.objects.values_list("code", "place").order_by("pk")
    before = list(before)
    response = client.post(
        reverse("feedback:desk_edit", args=[desks["a"].pk]), {"code": "dongjie", "place": "改"}
    )
    assert response.status_code == (302 if code == 200 else 404)
    if code == 404:
        assert list(Desk.objects.values_list("code", "place").order_by("pk")) == before


def test_routing_rules_add_edit_delete_and_try(en, people, tree, desks):
    alice = en(people["alice"])
    response = alice.post(
        reverse("feedback:rule_new"),
        {"organization": tree["group_a"].pk, "keywords": "路灯，照明", "weight": 2, "active": "on"},
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.keywords == "照明 路灯" and rule.weight == 2

    response = alice.post(
        reverse("feedback:rule_edit", args=[rule.pk]),
        {"organization": tree["group_a"].pk, "keywords": "路灯 停电", "weight": 1, "active": "on"},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.keywords == "停电 路灯"

    tried = alice.get(
        reverse("feedback:route_try"),
        {"text": "东街的路灯坏了", "category": "help", "desk": desks["a"].pk},
        HTTP_HX_REQUEST="true",
    )
    assert tried.status_code == 200
    assert "第一党小组" in body(tried) and 'data-testid="matched">路灯<' in body(tried)
    assert "<html" not in body(tried)  # a partial
    nothing = alice.get(
        reverse("feedback:route_try"),
        {"text": "想咨询一下入党的流程", "category": "help", "desk": desks["a"].pk},
        HTTP_HX_REQUEST="true",
    )
    assert "No rule matches" in body(nothing) and "东街社区党支部" in body(nothing)
    # without JavaScript, the settings page shows the answer
    page = alice.get(reverse("feedback:route_try"), {"text": "路灯不亮", "category": "help"})
    assert page.context["tried"]["org"] == tree["group_a"]

    assert alice.post(reverse("feedback:rule_delete", args=[rule.pk])).status_code == 302
    assert not RoutingRule.objects.exists()
    assert AuditEvent.objects.filter(action="feedback.rule_delete").count() == 1


def test_a_rule_without_keywords_comes_back_on_its_field(en, people, tree):
    response = en(people["alice"]).post(
        reverse("feedback:rule_new"),
        {"organization": tree["branch_a"].pk, "keywords": "，、", "weight": 1},
    )
    assert response.status_code == 400 and not RoutingRule.objects.exists()
    assert "Enter at least one keyword." in response.context["form"].errors["keywords"]


def test_the_sibling_cannot_touch_alices_rules(en, people, tree, admin):
    rule = services.save_routing_rule(actor=admin, organization=tree["branch_a"], keywords="路灯")
    bob = en(people["bob"])
    assert bob.get(reverse("feedback:rule_edit", args=[rule.pk])).status_code == 404
    assert bob.post(reverse("feedback:rule_delete", args=[rule.pk])).status_code == 404
    response = bob.post(
        reverse("feedback:rule_new"), {"organization": tree["branch_a"].pk, "keywords": "x"}
    )
    assert response.status_code == 400  # not among his choices
    assert list(RoutingRule.objects.values_list("keywords", flat=True)) == ["路灯"]
    assert [r.pk for r in bob.get(reverse("feedback:settings")).context["rules"]] == []
    oscar = en(people["oscar"])
    assert [r.pk for r in oscar.get(reverse("feedback:settings")).context["rules"]] == [rule.pk]


def test_deadlines_are_set_by_the_platforms_administrators_only(en, people, admin):
    alice = en(people["alice"])
    page = alice.get(reverse("feedback:settings"))
    assert not page.context["may_set_deadlines"] and page.context["deadline_form"] is None
    rows = {d["category"]: d for d in page.context["deadlines"]}
    assert rows["help"]["default"] == (1, 5) and rows["help"]["local"] is None
    data = {"category": "help", "ack_days": 1, "answer_days": 3}
    assert alice.post(reverse("feedback:deadline_save"), data).status_code == 403
    assert not DeadlinePolicy.objects.exists()

    root = en(admin)
    bad = root.post(reverse("feedback:deadline_save"), {**data, "ack_days": 9})
    assert bad.status_code == 400 and not DeadlinePolicy.objects.exists()
    assert root.post(reverse("feedback:deadline_save"), data).status_code == 302
    policy = DeadlinePolicy.objects.get()
    assert (policy.ack_days, policy.answer_days) == (1, 3)
    rows = {d["category"]: d for d in root.get(reverse("feedback:settings")).context["deadlines"]}
    assert rows["help"]["local"] == (1, 3)


def test_settings_are_not_for_a_committee_member(en, tree, make_user, admin, desks):
    member = make_user("cm")
    core_services.assign_role(
        actor=admin, user=member, org=tree["branch_a"], role="committee_member"
    )
    client = en(member)
    assert client.get(reverse("feedback:inbox")).status_code == 200
    assert client.get(reverse("feedback:settings")).status_code == 404
    assert client.get(reverse("feedback:desk_poster", args=[desks["a"].pk])).status_code == 404


def test_the_navigation_shows_the_inbox_to_those_who_may_see_it(en, people, make_user):
    page = en(people["alice"]).get(reverse("core:home"))
    assert f'href="{reverse("feedback:inbox")}"' in body(page)
    other = en(make_user("nobody")).get(reverse("core:home"))
    assert f'href="{reverse("feedback:inbox")}"' not in body(other)
