"""Roster PDF and member information card PDF: Chinese is drawn with an embedded CJK font, ID
numbers are masked unless allowed and asked for, the scope holds.

No PDF library is installed, so the checks read the PDF itself: the embedded font's name, and the
characters the text maps to (the ToUnicode maps of the fonts, after inflating the streams)."""

import re
import zlib

import pytest
from django.urls import reverse

from dangjian.core import crypto
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.members import documents, exporting
from dangjian.members.models import FamilyMember, Member, RewardDiscipline

pytestmark = pytest.mark.django_db


def streams(pdf: bytes) -> list[bytes]:
    found = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            found.append(zlib.decompress(match.group(1)))
        except zlib.error:
            found.append(match.group(1))
    return found


def drawn_text(pdf: bytes) -> set[str]:
    """Every character a font of the PDF maps its glyphs to (the ToUnicode maps)."""
    chars = set()

    def text(hexes: bytes) -> str:
        return bytes.fromhex(hexes.decode()).decode("utf-16-be", errors="replace")

    for data in streams(pdf):
        if b"begincmap" not in data:
            continue
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
            for _src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                chars.update(text(dst))
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
            for low, high, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                first = int(dst, 16)
                for i in range(int(high, 16) - int(low, 16) + 1):
                    chars.add(chr(first + i))
    return chars


def objects(pdf: bytes) -> bytes:
    """The file with its compressed streams (object streams too) inflated."""
    return pdf + b"\n".join(streams(pdf))


def pages(pdf: bytes) -> int:
    counts = re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", objects(pdf))
    return max((int(n) for n in counts), default=0)


def assert_cjk_pdf(pdf: bytes, text: str) -> None:
    assert pdf.startswith(b"%PDF-")
    assert pages(pdf) > 0
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+Noto-?S(ans|erif)-?CJK", objects(pdf)), (
        "no CJK font embedded"
    )
    missing = set(text) - drawn_text(pdf) - {" "}
    assert not missing, f"not drawn: {''.join(sorted(missing))}"


def test_roster_pdf_draws_chinese_on_landscape_pages(people, roster, tree, client_for):
    response = client_for(people["alice"]).get(
        reverse("members:roster_pdf") + f"?org={tree['branch_a'].pk}"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert_cjk_pdf(pdf, "张三李四王五东街社区党支部花名册正式党员预备党员")
    # landscape A4: 842 x 595 points
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", objects(pdf))
    assert box and float(box.group(1)) > float(box.group(2))
    # ID numbers masked: the digits of the middle part never appear as drawn text groups
    assert not AuditEvent.objects.filter(action="member.export_full").exists()


def test_roster_pdf_many_pages_have_numbers(people, tree, make_member):
    for i in range(60):
        make_member(tree["branch_b"], f"成员{i}", birth=f"19{50 + i % 30}-01-0{1 + i % 9}")
    export = exporting.prepare(people["bob"], {"org": tree["branch_b"].pk})
    pdf = documents.roster_pdf(export)
    assert pages(pdf) >= 2
    assert_cjk_pdf(pdf, "成员西街社区")


def test_roster_pdf_full_values_are_audited(people, roster, tree, client_for):
    response = client_for(people["oscar"]).get(
        reverse("members:roster_pdf") + f"?org={tree['branch_b'].pk}&columns=name,id_number&full=1"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="member.export_full")
    assert event.user == people["oscar"] and event.after["rows"] == 2
    assert event.after["format"] == "roster_pdf"


def test_roster_pdf_scope_and_bad_input(people, roster, tree, client_for, make_user, admin):
    url = reverse("members:roster_pdf")
    bob = client_for(people["bob"])
    assert bob.get(url + f"?org={tree['branch_a'].pk}").status_code == 404
    page = bob.get(url + "?columns=name,hat")
    assert page.status_code == 400 and b"hat" in page.content
    page = bob.get(url + "?joined_to=yesterday")
    assert page.status_code == 400 and b"joined_to" in page.content
    carol = make_user("carol")
    core_services.assign_role(
        actor=admin, user=carol, org=tree["branch_a"], role="committee_member"
    )
    page = client_for(carol).get(url + "?full=1")
    assert page.status_code == 403


def test_roster_pdf_refuses_too_many_rows(people, roster, tree, client_for, settings):
    settings.MEMBER_ROSTER_PDF_LIMIT = 2
    page = client_for(people["oscar"]).get(reverse("members:roster_pdf"))
    assert page.status_code == 400
    assert "5" in page.content.decode()


def _add_family_and_rewards(member: Member):
    FamilyMember.objects.create(
        member=member, relation="妻子", name="刘芳", political_status="群众"
    )
    RewardDiscipline.objects.create(
        member=member, kind="reward", decided_on="2020-07-01", title="优秀共产党员", issuer="县委"
    )


def test_information_card(people, roster, tree, client_for):
    zhang = roster["zhang"]
    _add_family_and_rewards(zhang)
    url = reverse("members:card_pdf", args=[zhang.pk])
    for name in ("alice", "oscar"):
        response = client_for(people[name]).get(url)
        assert response.status_code == 200, name
        pdf = response.content
        assert pages(pdf) == 1
        assert_cjk_pdf(
            pdf, "党员信息采集表张三公民身份号码家庭主要成员刘芳妻子优秀共产党员奖惩情况汉族男"
        )
    assert client_for(people["bob"]).get(url).status_code == 404
    assert client_for(people["bob"]).get(url + "?full=1").status_code == 404
    assert not AuditEvent.objects.filter(action="member.export_full").exists()


def test_information_card_id_number_masked_unless_allowed(people, roster, tree, admin, make_user):
    zhang = roster["zhang"]
    number = crypto.decrypt(zhang.id_number_encrypted)
    qs = Member.objects.filter(pk=zhang.pk)
    masked = documents.card(Member.objects.get(pk=zhang.pk), full=False)
    assert masked["id_number"] == crypto.mask_id_number(number)
    assert masked["phone"] == "139****1111"
    full = documents.card(Member.objects.get(pk=zhang.pk), full=True)
    assert full["id_number"] == number and full["phone"] == "13900001111"
    # asking for full values with the right: audited, with the member as object
    documents.cards_pdf(people["alice"], qs, full=True)
    event = AuditEvent.objects.get(action="member.export_full")
    assert event.object_type == "members.member" and event.object_id == str(zhang.pk)
    # without the right: refused
    carol = make_user("carol")
    core_services.assign_role(
        actor=admin, user=carol, org=tree["branch_a"], role="committee_member"
    )
    from django.test import Client

    c = Client()
    c.force_login(carol)
    url = reverse("members:card_pdf", args=[zhang.pk])
    assert c.get(url).status_code == 200
    assert c.get(url + "?full=1").status_code == 403


def test_cards_of_the_filtered_list_one_page_each(people, roster, tree, client_for):
    response = client_for(people["oscar"]).get(
        reverse("members:cards_pdf") + f"?org={tree['town'].pk}"
    )
    assert response.status_code == 200
    assert pages(response.content) == 5
    bob = client_for(people["bob"])
    response = bob.get(reverse("members:cards_pdf"))
    assert pages(response.content) == 2
    assert_cjk_pdf(response.content, "赵六钱七")
    assert "张" not in drawn_text(response.content)  # nothing of branch A
    assert bob.get(reverse("members:cards_pdf") + "?q=nobody").status_code == 400
