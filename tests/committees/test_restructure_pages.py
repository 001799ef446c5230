"""Restructuring pages: each is a preview that writes nothing, then a confirmation that makes the
change through committees.restructure; problems stop the change with the reason in words."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.committees import services
from dangjian.committees.models import OfficeHolder
from dangjian.core.models import AuditEvent, Organization
from dangjian.members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def en(client_for):
    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


def today() -> str:
    return timezone.localdate().isoformat()


def state():
    return (
        Organization.objects.filter(status="active").count(),
        list(Member.objects.order_by("pk").values_list("organization_id", flat=True)),
        OfficeHolder.objects.filter(ended_on__isnull=True).count(),
        AuditEvent.objects.count(),
    )


def test_merge_preview_then_confirm(people, tree, roster, admin, en):
    a, b = tree["branch_a"], tree["branch_b"]
    services.appoint(
        actor=admin,
        org=b,
        member=roster["zhao"],
        position="secretary",
        started_on=timezone.localdate() - datetime.timedelta(days=30),
    )
    c = en(people["oscar"])
    url = reverse("committees:merge", args=[b.pk])
    form_page = c.get(url)
    assert form_page.status_code == 200
    targets = {pk for pk, _label in form_page.context["form"].fields["target"].choices if pk}
    assert a.pk in targets and b.pk not in targets

    before = state()
    preview = c.post(url, {"target": a.pk, "on": today()})
    assert preview.status_code == 200
    assert state() == before  # the preview writes nothing
    p = preview.context["preview"]
    assert p.ok and p.members == 2 and set(p.member_names) == {"赵六", "钱七"}
    text = preview.content.decode()
    assert 'data-testid="confirm-form"' in text and "赵六" in text
    assert "赵六 (Secretary)" in text  # the office that ends

    done = c.post(url, {"target": a.pk, "on": today(), "confirm": "1"})
    assert done.status_code == 302 and done.url == reverse("core:org_detail", args=[a.pk])
    b.refresh_from_db()
    assert b.status == "dissolved"
    assert set(Member.objects.filter(organization=a).values_list("name", flat=True)) >= {
        "赵六",
        "钱七",
    }
    assert not OfficeHolder.objects.filter(organization=b, ended_on__isnull=True).exists()


def test_a_merge_that_cannot_be_made_shows_why_and_offers_no_confirmation(people, tree, roster, en):
    b = tree["branch_b"]
    c = en(people["oscar"])
    url = reverse("committees:merge", args=[b.pk])
    # branch B's members cannot move into the town committee itself
    preview = c.post(url, {"target": tree["town"].pk, "on": today()})
    assert preview.status_code == 200
    p = preview.context["preview"]
    assert not p.ok
    text = preview.content.decode()
    assert "Members can only move to a branch" in text
    assert 'name="confirm"' not in text
    # a crafted confirmation is refused too, with the reason, and nothing changes
    before = state()
    crafted = c.post(url, {"target": tree["town"].pk, "on": today(), "confirm": "1"})
    assert crafted.status_code == 200
    assert "Members can only move to a branch" in crafted.content.decode()
    assert state() == before


def test_merge_form_errors_keep_what_was_typed(people, tree, roster, en):
    url = reverse("committees:merge", args=[tree["branch_b"].pk])
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = en(people["oscar"]).post(url, {"target": "", "on": tomorrow})
    assert response.status_code == 200
    assert response.context["form"].errors["target"]
    assert f'value="{tomorrow}"' in response.content.decode()
    future = en(people["oscar"]).post(
        url, {"target": tree["branch_a"].pk, "on": tomorrow, "confirm": "1"}
    )
    assert "cannot be in the future" in future.context["form"].errors["on"][0]
    tree["branch_b"].refresh_from_db()
    assert tree["branch_b"].status == "active"


def test_back_from_the_preview_keeps_the_choices(people, tree, roster, en):
    url = reverse("committees:merge", args=[tree["branch_b"].pk])
    back = en(people["oscar"]).post(
        url, {"target": tree["branch_a"].pk, "on": today(), "back": "1"}
    )
    assert back.status_code == 200 and back.context["preview"] is None
    assert f'<option value="{tree["branch_a"].pk}" selected>' in back.content.decode()


def test_split_preview_then_confirm(people, tree, roster, en):
    a = tree["branch_a"]
    c = en(people["oscar"])
    url = reverse("committees:split", args=[a.pk])
    page = c.get(url)
    assert page.status_code == 200
    movers = [roster["zhang"].pk, roster["wang"].pk]
    data = {"code": "B03", "name": "东街社区第二党支部", "members": movers, "on": today()}
    before = state()
    preview = c.post(url, data)
    assert state() == before
    p = preview.context["preview"]
    assert p.ok and p.members == 2 and set(p.member_names) == {"张三", "王五"}
    text = preview.content.decode()
    # the confirmation carries every choice
    for pk in movers:
        assert f'name="members" value="{pk}"' in text
    assert 'name="code" value="B03"' in text

    done = c.post(url, {**data, "confirm": "1"})
    assert done.status_code == 302
    new_org = Organization.objects.get(code="B03")
    assert done.url == reverse("core:org_detail", args=[new_org.pk])
    assert new_org.parent_path == a.parent_path and new_org.kind == "branch"
    assert set(Member.objects.filter(organization=new_org).values_list("name", flat=True)) == {
        "张三",
        "王五",
    }
    assert Member.objects.get(pk=roster["li"].pk).organization_id == a.pk


def test_split_errors_are_named_and_nothing_moves(people, tree, roster, en):
    a = tree["branch_a"]
    c = en(people["oscar"])
    url = reverse("committees:split", args=[a.pk])
    nobody = c.post(url, {"code": "B03", "name": "第二支部", "on": today()})
    assert nobody.status_code == 200
    assert nobody.context["form"].errors["members"]
    assert 'value="第二支部"' in nobody.content.decode()
    # a code already used is found when the change is confirmed, and named on the code
    before = state()
    taken = c.post(
        url,
        {
            "code": "B02",
            "name": "第二支部",
            "members": [roster["zhang"].pk],
            "on": today(),
            "confirm": "1",
        },
    )
    assert taken.status_code == 200
    assert "B02" in taken.context["form"].errors["code"][0]
    assert f'value="{roster["zhang"].pk}" id="id_members_{roster["zhang"].pk}" checked' in (
        taken.content.decode()
    )
    assert state() == before
    # someone of another branch is not a choice
    other = c.post(
        url, {"code": "B03", "name": "第二支部", "members": [roster["zhao"].pk], "on": today()}
    )
    assert other.context["form"].errors["members"]


def test_split_is_for_branches_only(people, tree, en):
    response = en(people["oscar"]).get(reverse("committees:split", args=[tree["town"].pk]))
    assert response.status_code == 404


def test_dissolve_preview_then_confirm(people, tree, roster, en):
    a, b = tree["branch_a"], tree["branch_b"]
    c = en(people["oscar"])
    url = reverse("committees:dissolve", args=[b.pk])
    # without a place for its members the preview says so and offers no confirmation
    nowhere = c.post(url, {"on": today()})
    assert nowhere.status_code == 200
    assert not nowhere.context["preview"].ok
    assert "Choose where its members move to" in nowhere.content.decode()
    assert 'name="confirm"' not in nowhere.content.decode()

    before = state()
    preview = c.post(url, {"move_members_to": a.pk, "on": today()})
    assert state() == before
    assert preview.context["preview"].ok and preview.context["preview"].members == 2
    done = c.post(url, {"move_members_to": a.pk, "on": today(), "confirm": "1"})
    assert done.status_code == 302
    b.refresh_from_db()
    assert b.status == "dissolved"
    assert Member.objects.filter(organization=b, status="active").count() == 0


def test_dissolving_an_organisation_with_sub_organisations_is_refused(people, tree, en):
    town = tree["town"]
    response = en(people["oscar"]).post(
        reverse("committees:dissolve", args=[town.pk]), {"on": today()}
    )
    assert response.status_code == 200
    p = response.context["preview"]
    assert not p.ok and {c.pk for c in p.children} == {
        tree["branch_a"].pk,
        tree["branch_b"].pk,
    }
    town.refresh_from_db()
    assert town.status == "active"


@pytest.mark.parametrize("name", ["committees:merge", "committees:split", "committees:dissolve"])
def test_restructuring_needs_the_right_to_dissolve(people, tree, roster, en, name):
    a = tree["branch_a"]
    before = state()
    for person in ("alice", "bob"):  # alice may record, not restructure; bob is a sibling
        c = en(people[person])
        assert c.get(reverse(name, args=[a.pk])).status_code == 404
        assert c.post(reverse(name, args=[a.pk]), {"confirm": "1"}).status_code == 404
    assert state() == before


def test_a_dissolved_organisation_is_not_restructured_again(people, tree, roster, admin, en):
    from dangjian.committees import restructure

    b = tree["branch_b"]
    restructure.merge(actor=admin, source=b, target=tree["branch_a"])
    assert en(people["oscar"]).get(reverse("committees:merge", args=[b.pk])).status_code == 404
