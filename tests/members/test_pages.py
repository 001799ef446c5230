"""Member pages as three people: alice (secretary of branch A), oscar (org admin of the township
above A and B) and bob (secretary of B, A's sibling)."""

import datetime

import pytest
from django.urls import reverse

from dangjian.core.models import AuditEvent
from dangjian.members.models import FamilyMember, Member, StandingEvent


def state():
    return (
        Member.objects.count(),
        StandingEvent.objects.count(),
        FamilyMember.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_list_shows_only_the_scope(people, roster, client_for):
    names = {}
    for person in ("alice", "oscar", "bob"):
        response = client_for(people[person]).get(reverse("members:list"))
        assert response.status_code == 200
        names[person] = {m.name for m, _cells in response.context["rows"]}
    assert names["alice"] == {"张三", "李四", "王五"}
    assert names["oscar"] == {"张三", "李四", "王五", "赵六", "钱七"}
    assert names["bob"] == {"赵六", "钱七"}


def test_the_list_masks_id_and_phone(people, roster, client_for):
    response = client_for(people["oscar"]).get(reverse("members:list"), {"q": "张三"})
    body = response.content.decode()
    zhang = roster["zhang"]
    from dangjian.members.services import member_id_number

    full = member_id_number(zhang)
    assert full not in body
    assert full[:6] + "********" + full[-4:] in body
    assert "139****1111" in body and "13900001111" not in body


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"q": "zs"}, {"张三"}),
        ({"q": "张"}, {"张三"}),
        ({"q": "13900001111"}, {"张三"}),
        ({"sex": "2"}, {"李四", "赵六"}),
        ({"category": "probationary"}, {"李四"}),
        ({"ethnicity": "minority"}, {"王五"}),
        ({"ethnicity": "han", "sex": "1"}, {"张三", "钱七"}),
        ({"age_min": "60"}, {"王五"}),
        ({"age_max": "36"}, {"李四", "钱七"}),
        ({"years_min": "20"}, {"张三", "王五", "赵六"}),
        ({"years_max": "10"}, {"钱七"}),
        ({"joined_from": "2018-01-01"}, {"李四", "钱七"}),
        ({"joined_to": "2010-01-01"}, {"张三", "王五", "赵六"}),
    ],
)
def test_filters_and_search(people, roster, client_for, params, expected):
    response = client_for(people["oscar"]).get(reverse("members:list"), params)
    assert response.status_code == 200
    assert {m.name for m, _cells in response.context["rows"]} == expected


def test_search_by_id_number_in_any_form(people, roster, client_for):
    from dangjian.members.services import member_id_number

    number = member_id_number(roster["wang"])
    spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    response = client_for(people["alice"]).get(reverse("members:list"), {"q": spaced})
    assert [m.name for m, _c in response.context["rows"]] == ["王五"]


def test_organisation_filter_subtree_and_exact(people, tree, roster, client_for):
    client = client_for(people["oscar"])
    town = client.get(reverse("members:list"), {"org": tree["town"].pk})
    assert len(town.context["rows"]) == 5
    exact = client.get(reverse("members:list"), {"org": tree["town"].pk, "exact_org": "1"})
    assert len(exact.context["rows"]) == 0
    # bob cannot filter on branch A: it is outside his scope
    assert (
        client_for(people["bob"])
        .get(reverse("members:list"), {"org": tree["branch_a"].pk})
        .status_code
        == 404
    )


def test_bad_filter_values_are_explained_not_500(people, roster, client_for):
    response = client_for(people["alice"]).get(
        reverse("members:list"), {"age_min": "abc", "joined_from": "2019.13.01", "sort": "x"}
    )
    assert response.status_code == 200
    assert set(response.context["errors"]) == {"age_min", "joined_from", "sort"}


def test_sorting_and_column_chooser(people, roster, client_for):
    client = client_for(people["alice"])
    response = client.get(reverse("members:list"), {"sort": "-birth_date"})
    assert [m.name for m, _c in response.context["rows"]] == ["李四", "张三", "王五"]
    response = client.get(reverse("members:list"), {"cols": ["name", "native_place"]})
    assert [c.key for c in response.context["columns"]] == ["name", "native_place"]
    # the choice is remembered for the next visit
    response = client.get(reverse("members:list"))
    assert [c.key for c in response.context["columns"]] == ["name", "native_place"]


def test_list_queries_do_not_grow_with_rows(people, tree, client_for, make_member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(people["alice"])
    counts = []
    for n in (2, 20):
        while Member.objects.filter(organization=tree["branch_a"]).count() < n:
            make_member(tree["branch_a"], f"成员{Member.objects.count()}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("members:list")).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("person,status", [("alice", 200), ("oscar", 200), ("bob", 404)])
def test_detail_by_person(people, roster, client_for, person, status):
    zhang = roster["zhang"]
    client = client_for(people[person])
    assert client.get(reverse("members:detail", args=[zhang.pk])).status_code == status
    assert client.get(reverse("members:edit", args=[zhang.pk])).status_code == status
    before = state()
    response = client.post(reverse("members:reveal", args=[zhang.pk]))
    if person == "bob":
        assert response.status_code == 404
        assert state() == before
    else:
        assert response.status_code == 200
        from dangjian.members.services import member_id_number

        assert member_id_number(zhang) in response.content.decode()
        event = AuditEvent.objects.latest("id")
        assert (event.action, event.object_id, event.user_id) == (
            "member.reveal",
            str(zhang.pk),
            people[person].pk,
        )


def test_a_role_without_full_values_cannot_reveal(
    people, tree, roster, client_for, make_user, admin
):
    from dangjian.core import services as core_services

    viewer = make_user("viewer")
    core_services.assign_role(
        actor=admin, user=viewer, org=tree["branch_a"], role="committee_member"
    )
    client = client_for(viewer)
    response = client.get(reverse("members:detail", args=[roster["zhang"].pk]))
    assert response.status_code == 200
    assert b'data-testid="reveal"' not in response.content
    before = state()
    assert client.post(reverse("members:reveal", args=[roster["zhang"].pk])).status_code == 404
    assert state() == before
    # nor change anything
    assert client.get(reverse("members:edit", args=[roster["zhang"].pk])).status_code == 404


def test_bob_cannot_post_anything_to_a_member_of_a(people, roster, client_for):
    zhang = roster["zhang"]
    client = client_for(people["bob"])
    before = state()
    posts = [
        reverse("members:edit", args=[zhang.pk]),
        reverse("members:event_create", args=[zhang.pk]),
        reverse("members:related_create", args=[zhang.pk, "family"]),
        reverse("members:document_upload", args=[zhang.pk]),
        reverse("members:photo", args=[zhang.pk]),
    ]
    for url in posts:
        assert client.post(url, {"name": "x"}).status_code == 404, url
    assert state() == before


def _form(**over):
    from tests.idnumbers import make_id

    data = {
        "name": "孙八",
        "id_number": make_id("1988-08-08", 2, seq=77),
        "sex": "",
        "ethnicity": "01",
        "birth_date": "",
        "category": "full",
        "joined_on": "2012-07-01",
        "full_on": "2013-07-01",
        "education": "21",
        "phone": "13700000000",
    }
    data.update(over)
    return data


def test_alice_records_a_member_and_the_timeline_follows(people, tree, client_for):
    client = client_for(people["alice"])
    response = client.post(reverse("members:create") + f"?org={tree['branch_a'].pk}", _form())
    assert response.status_code == 302, response.context["form"].errors
    member = Member.objects.get(name="孙八")
    assert (member.sex, member.birth_date) == ("2", datetime.date(1988, 8, 8))
    assert list(member.events.values_list("kind", flat=True)) == ["admitted", "became_full"]
    assert AuditEvent.objects.filter(action="member.create", object_id=str(member.pk)).exists()


@pytest.mark.parametrize(
    "over,field",
    [
        ({"id_number": "110101199003077574"}, "id_number"),
        ({"sex": "1"}, "sex"),
        ({"birth_date": "1988-08-09"}, "birth_date"),
        ({"joined_on": "2000-01-01", "full_on": "2001-01-01"}, "joined_on"),
        ({"full_on": "2011-01-01"}, "full_on"),
        ({"phone": "12345"}, "phone"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_records_name_the_field_and_write_nothing(people, tree, client_for, over, field):
    client = client_for(people["alice"])
    before = state()
    response = client.post(reverse("members:create") + f"?org={tree['branch_a'].pk}", _form(**over))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert state() == before
    # what the user typed is kept
    assert response.context["form"]["name"].value() == _form(**over)["name"]


def test_a_duplicate_id_number_is_refused(people, tree, roster, client_for):
    from dangjian.members.services import member_id_number

    client = client_for(people["alice"])
    before = state()
    response = client.post(
        reverse("members:create") + f"?org={tree['branch_a'].pk}",
        _form(id_number=member_id_number(roster["zhao"])),
    )
    assert "id_number" in response.context["form"].errors
    assert state() == before


def test_bob_cannot_record_a_member_in_branch_a(people, tree, client_for):
    before = state()
    response = client_for(people["bob"]).post(
        reverse("members:create") + f"?org={tree['branch_a'].pk}", _form()
    )
    assert response.status_code == 404
    assert state() == before


def test_edit_changes_fields_and_is_audited(people, roster, client_for):
    zhang = roster["zhang"]
    client = client_for(people["alice"])
    page = client.get(reverse("members:edit", args=[zhang.pk]))
    data = {k: (v if v is not None else "") for k, v in page.context["form"].initial.items()}
    data["birth_date"] = "1985-03-12"
    data.update({"native_place": "山东泰安", "joined_on": "2005-07-01", "full_on": "2006-07-01"})
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    response = client.post(reverse("members:edit", args=[zhang.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    zhang.refresh_from_db()
    assert zhang.native_place == "山东泰安"
    event = AuditEvent.objects.filter(action="member.update").latest("id")
    assert event.after == {"native_place": "山东泰安"}


def test_timeline_event_from_the_page(people, tree, roster, client_for):
    li = roster["li"]
    client = client_for(people["alice"])
    response = client.post(
        reverse("members:event_create", args=[li.pk]),
        {"kind": "became_full", "occurred_on": "2026-09-01"},
    )
    assert response.status_code == 302
    li.refresh_from_db()
    assert (li.category, li.full_on) == ("full", datetime.date(2026, 9, 1))
    # an event that does not fit is refused with a message, nothing written
    before = state()
    response = client.post(
        reverse("members:event_create", args=[li.pk]),
        {"kind": "restored", "occurred_on": "2026-09-02"},
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert state() == before


def test_family_row_add_edit_delete(people, roster, client_for):
    zhang = roster["zhang"]
    client = client_for(people["alice"])
    url = reverse("members:related_create", args=[zhang.pk, "family"])
    assert client.post(url, {"relation": "妻子", "name": "刘芳"}).status_code == 302
    row = FamilyMember.objects.get(member=zhang)
    edit = reverse("members:related_edit", args=[zhang.pk, "family", row.pk])
    assert client.post(edit, {"relation": "配偶", "name": "刘芳"}).status_code == 302
    row.refresh_from_db()
    assert row.relation == "配偶"
    detail = client.get(reverse("members:detail", args=[zhang.pk]) + "?tab=family")
    assert "刘芳" in detail.content.decode()
    assert [e.action for e in detail.context["changes"]][:2] == [
        "member.family_update",
        "member.family_add",
    ]
    delete = reverse("members:related_delete", args=[zhang.pk, "family", row.pk])
    assert client.post(delete).status_code == 302
    assert not FamilyMember.objects.filter(member=zhang).exists()
    # the deleted row's history stays on the member's page, and nobody else's rows show there
    detail = client.get(reverse("members:detail", args=[zhang.pk]) + "?tab=changes")
    assert [e.action for e in detail.context["changes"]][:3] == [
        "member.familymember_delete",
        "member.family_update",
        "member.family_add",
    ]
    other = client.get(reverse("members:detail", args=[roster["li"].pk]))
    assert not [e for e in other.context["changes"] if e.action.startswith("member.family")]


def test_documents_are_checked_by_content(people, roster, client_for, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    zhang = roster["zhang"]
    client = client_for(people["alice"])
    url = reverse("members:document_upload", args=[zhang.pk])
    fake = SimpleUploadedFile("scan.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client.post(url, {"title": "入党志愿书", "file": fake})
    assert response.status_code == 200 and "file" in response.context["form"].errors
    pdf = SimpleUploadedFile("scan.pdf", b"%PDF-1.4\n%...\n", content_type="application/pdf")
    assert client.post(url, {"title": "入党志愿书", "file": pdf}).status_code == 302
    doc = zhang.documents.get()
    download = reverse("members:document_download", args=[zhang.pk, doc.pk])
    assert client.get(download).status_code == 200
    assert client_for(people["bob"]).get(download).status_code == 404


def test_photo_is_reencoded(people, roster, client_for, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (30, 40), "red").save(buffer, "PNG")
    client = client_for(people["alice"])
    url = reverse("members:photo", args=[roster["zhang"].pk])
    bad = SimpleUploadedFile("p.jpg", b"not an image")
    assert "photo" in client.post(url, {"photo": bad}).context["form"].errors
    good = SimpleUploadedFile("p.png", buffer.getvalue())
    assert client.post(url, {"photo": good}).status_code == 302
    roster["zhang"].refresh_from_db()
    assert roster["zhang"].photo.name.endswith(".jpg")


def test_a_member_sees_and_corrects_only_their_own_contact(
    tree, roster, client_for, make_user, admin
):
    from dangjian.core import services as core_services

    user = make_user("zhangsan")
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="member")
    zhang = roster["zhang"]
    Member.objects.filter(pk=zhang.pk).update(user=user)
    client = client_for(user)
    assert client.get(reverse("members:list")).status_code == 404
    assert client.get(reverse("members:detail", args=[zhang.pk])).status_code == 404
    page = client.get(reverse("members:me"))
    assert page.status_code == 200 and "张三" in page.content.decode()
    response = client.post(
        reverse("members:me"), {"phone": "13911112222", "telephone": "", "home_address": "东街1号"}
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    from dangjian.members.services import member_phone

    assert member_phone(zhang) == "13911112222" and zhang.home_address == "东街1号"
    event = AuditEvent.objects.filter(action="member.self_update").get()
    assert event.after == {"phone": "139****2222", "home_address": "东街1号"}
    # a bad phone number is explained and changes nothing
    before = state()
    response = client.post(reverse("members:me"), {"phone": "123", "home_address": "x"})
    assert "phone" in response.context["form"].errors
    assert state() == before


def test_members_pages_need_login(client, roster):
    for url in (reverse("members:list"), reverse("members:detail", args=[roster["zhang"].pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url


def test_too_long_values_are_explained_not_500(people, roster, client_for):
    zhang = roster["zhang"]
    client = client_for(people["alice"])
    before = state()
    page = client.get(reverse("members:edit", args=[zhang.pk]))
    data = {k: (v if v is not None else "") for k, v in page.context["form"].initial.items()}
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    from dangjian.members import services

    with pytest.raises(services.RecordInvalid) as info:
        services.update_member(actor=people["alice"], member=zhang, data={"degree": "学" * 40})
    assert info.value.field == "degree"
    with pytest.raises(services.RecordInvalid) as info:
        services.save_related(
            actor=people["alice"], member=zhang, kind="family", data={"relation": "", "name": "x"}
        )
    assert "relation" in info.value.errors
    assert state() == before


def test_an_organisation_id_above_999_is_accepted(people, roster, client_for):
    from dangjian.members.selectors import MemberFilter

    flt, errors = MemberFilter.from_params({"org": "123456", "age_min": "1234"})
    assert flt.org == 123456 and set(errors) == {"age_min"}


def test_a_large_list_shows_a_capped_count(people, roster, client_for, monkeypatch, settings):
    from dangjian.members import paging

    monkeypatch.setattr(paging, "DEFAULT_CAP", 2)
    monkeypatch.setattr(paging, "AHEAD", 0)
    settings.PAGE_SIZE = 1
    response = client_for(people["oscar"]).get(reverse("members:list"))
    paginator = response.context["page"].paginator
    assert (paginator.count, paginator.count_exact) == (2, False)
    assert response.context["page"].has_next()
    # a page past the cap is still reachable, and the last one ends the list
    last = client_for(people["oscar"]).get(reverse("members:list"), {"page": "5"})
    assert last.context["page"].number == 5 and not last.context["page"].has_next()


@pytest.mark.parametrize(
    "params",
    [
        {"q": "11²105194912310020"},
        {"q": "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"},
        {"q": "张\x00三"},
        {"org": "²"},
        {"org": "99999999999999999999999"},
        {"page": "99999999999999999999"},
        {"page": "-3"},
        {"age_min": "٣"},
    ],
)
def test_odd_query_values_never_fail(people, roster, client_for, params):
    response = client_for(people["alice"]).get(reverse("members:list"), params)
    assert response.status_code in (200, 404)


def test_the_edit_page_never_shows_full_numbers_and_blank_keeps_them(people, roster, client_for):
    from dangjian.members.services import member_id_number, member_phone

    zhang = roster["zhang"]
    number = member_id_number(zhang)
    client = client_for(people["alice"])
    before_audit = AuditEvent.objects.count()
    page = client.get(reverse("members:edit", args=[zhang.pk]))
    body = page.content.decode()
    assert number not in body and "13900001111" not in body
    assert number[:6] + "********" + number[-4:] in body  # shown masked as a hint
    assert AuditEvent.objects.count() == before_audit
    data = {k: (v if v is not None else "") for k, v in page.context["form"].initial.items()}
    data = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
    data.update({"id_number": "", "phone": "", "native_place": "泰安"})
    assert client.post(reverse("members:edit", args=[zhang.pk]), data).status_code == 302
    zhang.refresh_from_db()
    assert member_id_number(zhang) == number and member_phone(zhang) == "13900001111"
    assert zhang.native_place == "泰安"
