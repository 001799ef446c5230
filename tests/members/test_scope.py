"""Every member page, tried by three people (STYLE.md): alice, secretary of branch A (inside);
oscar, org admin of the township above A and B (above); bob, secretary of B (a sibling: 404).

The guard at the end fails when a page is added to members/urls.py without a row here.
"""

import pytest
from django.urls import URLPattern, reverse

from dangjian.core.models import AuditEvent
from dangjian.members.models import FamilyMember, Member, MemberDocument, StandingEvent


@pytest.fixture
def world(people, tree, roster, admin, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dangjian.members import services

    settings.MEDIA_ROOT = tmp_path
    zhang = roster["zhang"]
    family = services.save_related(
        actor=admin, member=zhang, kind="family", data={"relation": "妻子", "name": "刘芳"}
    )
    doc = services.add_document(
        actor=admin,
        member=zhang,
        title="入党志愿书",
        upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4\n", content_type="application/pdf"),
    )
    from dangjian.members import importing
    from tests.members.import_files import good_row, write_xlsx

    path = write_xlsx(tmp_path / "roster.xlsx", [good_row(1), good_row(2)])
    imp = importing.upload(
        actor=people["alice"], organization=tree["branch_a"], data=path.read_bytes(), name="r.xlsx"
    )
    return {
        "tree": tree,
        "zhang": zhang,
        "family": family,
        "doc": doc,
        "people": people,
        "import": imp,
    }


def page_args(name, w):
    """(args, query) of a member page about branch A or its member 张三."""
    a = w["tree"]["branch_a"]
    z = w["zhang"]
    return {
        "members:list": ([], {"org": a.pk}),
        "members:create": ([], {"org": a.pk}),
        "members:detail": ([z.pk], {}),
        "members:edit": ([z.pk], {}),
        "members:reveal": ([z.pk], {}),
        "members:event_create": ([z.pk], {}),
        "members:photo": ([z.pk], {}),
        "members:document_upload": ([z.pk], {}),
        "members:document_download": ([z.pk, w["doc"].pk], {}),
        "members:document_delete": ([z.pk, w["doc"].pk], {}),
        "members:related_create": ([z.pk, "family"], {}),
        "members:related_edit": ([z.pk, "family", w["family"].pk], {}),
        "members:related_delete": ([z.pk, "family", w["family"].pk], {}),
        "members:export": ([], {"org": a.pk}),
        "members:roster_pdf": ([], {"org": a.pk}),
        "members:cards_pdf": ([], {"org": a.pk}),
        "members:card_pdf": ([z.pk], {}),
        "members:charts": ([], {"org": a.pk}),
        "members:charts_xlsx": ([], {"org": a.pk}),
        "members:import_upload": ([], {"org": a.pk}),
        "members:import_mapping": ([w["import"].pk], {}),
        "members:import_preview": ([w["import"].pk], {}),
        "members:import_report": ([w["import"].pk], {}),
        "members:import_commit": ([w["import"].pk], {}),
        "members:import_status": ([w["import"].pk], {}),
    }[name]


# An import belongs to the person who uploaded it (alice), like a job: others get 404.
OWNER_ONLY = {
    "members:import_mapping",
    "members:import_preview",
    "members:import_report",
    "members:import_commit",
    "members:import_status",
}


# pages that answer GET with 405 (POST only)
POST_ONLY = {
    "members:reveal",
    "members:document_delete",
    "members:related_delete",
    "members:import_commit",
}
# pages about no particular organisation or member (tested elsewhere)
UNSCOPED = {"members:me"}


def member_url_names():
    from dangjian.members import urls

    return [f"members:{p.name}" for p in urls.urlpatterns if isinstance(p, URLPattern)]


def scoped_names():
    return [
        n for n in member_url_names() if n not in UNSCOPED and not n.startswith("members:import")
    ]


def state():
    return (
        Member.objects.count(),
        StandingEvent.objects.count(),
        FamilyMember.objects.count(),
        MemberDocument.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("name", scoped_names())
@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
def test_every_member_page_by_person(world, client_for, name, person):
    args, query = page_args(name, world)
    client = client_for(world["people"][person])
    url = reverse(name, args=args)
    outsider = person == "bob" or (person == "oscar" and name in OWNER_ONLY)
    if name in POST_ONLY:
        assert client.get(url, query).status_code == 405
        if outsider:
            before = state()
            assert client.post(url + ("?" if query else "")).status_code == 404
            assert state() == before
        return
    response = client.get(url, query)
    expected = 404 if outsider else 200
    assert response.status_code == expected, (name, person, response.status_code)
    if outsider:
        before = state()
        assert client.post(
            url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        ).status_code in (
            404,
            405,
        )
        assert state() == before


def test_the_matrix_covers_every_member_page(world):
    for name in scoped_names():
        page_args(name, world)  # KeyError names a page without a scope row


@pytest.mark.parametrize("name", member_url_names())
def test_anonymous_is_sent_to_login(client, world, name):
    if name in UNSCOPED:
        args, query = [], {}
    else:
        try:
            args, query = page_args(name, world)
        except KeyError:
            pytest.fail(f"{name} has no row in page_args")
    response = client.get(reverse(name, args=args), query)
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert "/login/" in response.url
