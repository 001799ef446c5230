"""Introduction letters out of the platform through the pages: issue, print (PDF and Word, the
three parts on one page), receipt, expiry, cancellation; and the bad input of each step."""

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.core import rules
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.members.models import Member, StandingEvent
from dangjian.members.services import member_id_number
from dangjian.transfers import documents, services
from dangjian.transfers.models import State, Transfer
from tests.members.test_export_pdf import assert_cjk_pdf, drawn_text, pages

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(client_for):
    """The pages in English, so the messages asserted below stay the msgids whatever the
    catalogue says."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


def today():
    return timezone.localdate()


def state():
    return (
        list(Transfer.objects.order_by("pk").values_list("pk", "state", "letter_seq")),
        list(Member.objects.order_by("pk").values_list("pk", "organization_id", "status")),
        StandingEvent.objects.count(),
        AuditEvent.objects.count(),
    )


def docx_text(data: bytes) -> list[str]:
    from docx import Document

    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def issue(client, member, **extra):
    data = {
        "counterpart": "某市某区某街道党工委",
        "addressee": "某市某区某街道党工委组织科",
        "started_on": today().isoformat(),
        "valid_days": "30",
        "reason": "工作调动",
        **extra,
    }
    return client.post(reverse("transfers:issue_letter", args=[member.pk]), data)


def test_full_path_of_a_letter_out_of_the_platform(people, tree, roster, client_for):
    alice = client_for(people["alice"])
    wang = roster["wang"]
    form = alice.get(reverse("transfers:issue_letter", args=[wang.pk]))
    assert form.status_code == 200 and form.context["form"]["valid_days"].value() == 30

    response = issue(alice, wang)
    letter = Transfer.objects.get(member=wang)
    assert response.status_code == 302
    assert response.url == reverse("transfers:detail", args=[letter.pk])
    assert letter.direction == "outgoing" and letter.state == State.PENDING
    assert letter.letter_issuer_id == tree["town"].pk  # the committee above the branch
    assert (letter.valid_until - letter.started_on).days == 30
    number = f"城关镇党委〔{today().year}〕第0001号"
    assert documents.display_number(letter) == number

    detail = alice.get(response.url)
    assert number in detail.content.decode()
    assert detail.context["may_receipt"] and detail.context["may_print"]

    # PDF: the three parts on one page, in Chinese, the ID number masked
    pdf = alice.get(reverse("transfers:letter_pdf", args=[letter.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pages(pdf.content) == 1
    assert_cjk_pdf(pdf.content, number + "存根介绍信回执王五东街社区党支部沿此虚线剪开*")

    # Word: the number, the three parts and the cut lines between them, the ID number masked
    docx = alice.get(reverse("transfers:letter_docx", args=[letter.pk]))
    assert docx.status_code == 200 and docx["Content-Type"] == documents.DOCX_TYPE
    assert "attachment" in docx["Content-Disposition"]
    lines = docx_text(docx.content)
    text = "\n".join(lines)
    assert text.count(number) == 3
    titles = [line for line in lines if line.startswith("中国共产党党员组织关系介绍信")]
    assert titles == [
        "中国共产党党员组织关系介绍信（存根）",
        "中国共产党党员组织关系介绍信",
        "中国共产党党员组织关系介绍信回执",
    ]
    assert sum(documents.CUT in line for line in lines) == 2
    full = member_id_number(wang)
    assert full not in text and full[:6] + "********" + full[-4:] in text
    for words in (
        "王五",
        "男",
        "正式党员",
        "东街社区党支部",
        "某市某区某街道党工委组织科",
        "城关镇党委",
    ):
        assert words in text, words
    assert f"有效期30天，至{letter.valid_until.year}年" in text

    # receipt back: the member has left the platform
    response = alice.post(
        reverse("transfers:record_receipt", args=[letter.pk]), {"receipt_on": today().isoformat()}
    )
    assert response.status_code == 302
    letter.refresh_from_db()
    wang.refresh_from_db()
    assert letter.state == State.COMPLETED and letter.receipt_on == today()
    assert wang.status == "transferred_out"
    assert wang.events.filter(kind="transferred_out", reference=letter.letter_number).exists()


def test_numbers_follow_each_other_per_committee_and_year(people, roster, client_for):
    alice = client_for(people["alice"])
    issue(alice, roster["wang"])
    issue(alice, roster["zhang"])
    seqs = list(Transfer.objects.order_by("letter_seq").values_list("letter_seq", flat=True))
    assert seqs == [1, 2]


def test_full_id_number_only_for_who_may_see_it(people, tree, roster, client_for, make_user, admin):
    wang = roster["wang"]
    letter = services.issue_letter(actor=people["alice"], member=wang, counterpart="外县委组织部")
    full = member_id_number(wang)
    alice = client_for(people["alice"])
    detail = alice.get(reverse("transfers:detail", args=[letter.pk]))
    assert detail.context["may_print_full"]
    before = AuditEvent.objects.filter(action="letter.print_full").count()
    docx = alice.get(reverse("transfers:letter_docx", args=[letter.pk]), {"full": "1"})
    assert full in "\n".join(docx_text(docx.content))
    pdf = alice.get(reverse("transfers:letter_pdf", args=[letter.pk]), {"full": "1"})
    assert pdf.content.startswith(b"%PDF") and "*" not in drawn_text(pdf.content)
    events = AuditEvent.objects.filter(action="letter.print_full")
    assert events.count() == before + 2
    assert events.first().subject == f"members.member:{wang.pk}"

    # a committee member sees the record but not full numbers
    carol = make_user("carol")
    core_services.assign_role(
        actor=admin, user=carol, org=tree["branch_a"], role="committee_member"
    )
    carol_client = client_for(carol)
    detail = carol_client.get(reverse("transfers:detail", args=[letter.pk]))
    assert detail.status_code == 200
    assert detail.context["may_print"] and not detail.context["may_print_full"]
    assert "full=1" not in detail.content.decode()
    masked = carol_client.get(reverse("transfers:letter_docx", args=[letter.pk]))
    assert full not in "\n".join(docx_text(masked.content))
    for name in ("transfers:letter_pdf", "transfers:letter_docx"):
        refused = carol_client.get(reverse(name, args=[letter.pk]), {"full": "1"})
        assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="letter.print_full").count() == before + 2
    # nor may she act on it
    assert not detail.context["may_receipt"] and not detail.context["may_cancel"]
    response = carol_client.post(
        reverse("transfers:record_receipt", args=[letter.pk]), {"receipt_on": today().isoformat()}
    )
    assert response.status_code == 403
    assert Transfer.objects.get(pk=letter.pk).state == State.PENDING


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"counterpart": ""}, "counterpart"),
        ({"valid_days": "0"}, "valid_days"),
        ({"valid_days": "100"}, "valid_days"),
        ({"valid_days": "abc"}, "valid_days"),
        ({"started_on": "2999-01-01"}, "started_on"),
        ({"counterpart": "x" * 129}, "counterpart"),
    ],
)
def test_bad_letters_are_refused(people, roster, client_for, extra, field):
    before = state()
    response = issue(client_for(people["alice"]), roster["wang"], **extra)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert state() == before


def test_three_months_at_most(people, roster, client_for):
    """92 days pass the form; from 30 November they reach past 28 February and are refused."""
    alice = people["alice"]
    on = datetime.date(today().year - 1, 11, 30)
    with pytest.raises(Exception) as exc:
        services.letter_valid_until(on, 92)
    assert getattr(exc.value, "field", None) == "valid_days"
    before = state()
    response = issue(client_for(alice), roster["wang"], started_on=on.isoformat(), valid_days="92")
    assert response.status_code == 400 and response.context["form"].errors["valid_days"]
    assert state() == before


def test_one_open_letter_per_member(people, roster, client_for):
    alice = client_for(people["alice"])
    assert issue(alice, roster["wang"]).status_code == 302
    before = state()
    page = alice.get(reverse("transfers:issue_letter", args=[roster["wang"].pk]))
    assert page.context["open_transfer"] is not None
    response = issue(alice, roster["wang"])
    assert response.status_code == 409
    assert "under way" in " ".join(response.context["form"].non_field_errors()) + " ".join(
        response.context["form"].errors.get("member", [])
    )
    assert state() == before


def test_expired_and_cancelled_letters(people, roster, client_for):
    alice = client_for(people["alice"])
    wang, zhang = roster["wang"], roster["zhang"]
    issue(alice, wang, started_on=(today() - datetime.timedelta(days=40)).isoformat())
    issue(alice, zhang)
    expired, cancelled = Transfer.objects.order_by("letter_seq")
    # past its validity and not swept yet: stuck
    stuck = alice.get(reverse("transfers:list"), {"tab": "stuck"})
    assert [t.pk for t in stuck.context["page"].object_list] == [expired.pk]
    assert services.expire_letters() == 1
    expired.refresh_from_db()
    assert expired.state == State.EXPIRED
    before = state()
    response = alice.post(
        reverse("transfers:record_receipt", args=[expired.pk]),
        {"receipt_on": today().isoformat()},
    )
    assert response.status_code == 409
    assert "expired" in " ".join(response.context["receipt_form"].non_field_errors())
    assert state() == before
    assert Member.objects.get(pk=wang.pk).status == "active"
    text = "\n".join(
        docx_text(alice.get(reverse("transfers:letter_docx", args=[expired.pk])).content)
    )
    assert "（已过期）" in text

    response = alice.post(reverse("transfers:cancel", args=[cancelled.pk]), {"reason": "写错了"})
    assert response.status_code == 302
    cancelled.refresh_from_db()
    assert cancelled.state == State.CANCELLED and cancelled.decision_note == "写错了"
    text = "\n".join(
        docx_text(alice.get(reverse("transfers:letter_docx", args=[cancelled.pk])).content)
    )
    assert "（已作废）" in text
    # the member may get a new letter now
    assert issue(alice, zhang).status_code == 302


def test_receipt_before_the_letter_is_refused(people, roster, client_for):
    alice = client_for(people["alice"])
    issue(alice, roster["wang"])
    letter = Transfer.objects.get()
    before = state()
    for day in (today() - datetime.timedelta(days=1), today() + datetime.timedelta(days=1)):
        response = alice.post(
            reverse("transfers:record_receipt", args=[letter.pk]), {"receipt_on": day.isoformat()}
        )
        assert response.status_code == 400
        assert response.context["receipt_form"].errors["receipt_on"]
    assert state() == before


def test_long_names_still_fit_one_page(people, tree, roster, client_for):
    from dangjian.core.models import Organization

    Organization.objects.filter(pk__in=[tree["branch_a"].pk, tree["town"].pk]).update(
        name="东" * 128
    )
    alice = client_for(people["alice"])
    response = issue(
        alice, roster["wang"], counterpart="某" * 128, addressee="收" * 128, reason="因" * 255
    )
    assert response.status_code == 302
    letter = Transfer.objects.get()
    pdf = alice.get(reverse("transfers:letter_pdf", args=[letter.pk])).content
    assert pages(pdf) == 1
    assert {"某", "收", "因", "东"} <= drawn_text(pdf)


def test_internal_transfers_have_no_letter(people, tree, roster, client_for):
    t = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    for person in ("alice", "bob"):
        c = client_for(people[person])
        for name in ("transfers:letter_pdf", "transfers:letter_docx"):
            assert c.get(reverse(name, args=[t.pk])).status_code == 404


def test_validity_default_follows_the_setting(people, roster, client_for, settings):
    settings.LETTER_VALID_DAYS = 45
    alice = client_for(people["alice"])
    form = alice.get(reverse("transfers:issue_letter", args=[roster["wang"].pk]))
    assert form.context["form"]["valid_days"].value() == 45


def test_the_default_validity_is_cut_to_three_months_on_the_page(
    people, roster, client_for, settings
):
    """With 92 days configured, a letter issued on 30 November with the validity left as shown
    is valid until the end of February (typing 92 is still refused: test_three_months_at_most)."""
    settings.LETTER_VALID_DAYS = 92
    alice = client_for(people["alice"])
    on = datetime.date(today().year - 1, 11, 30)
    response = issue(alice, roster["wang"], started_on=on.isoformat(), valid_days="92")
    assert response.status_code == 302
    letter = Transfer.objects.get(member=roster["wang"])
    assert letter.valid_until == rules.add_months(on, 3)
    assert letter.valid_until.month == 2


def test_a_letter_with_control_characters_stored_before_still_prints(people, roster, client_for):
    alice = client_for(people["alice"])
    assert issue(alice, roster["wang"]).status_code == 302
    letter = Transfer.objects.get(member=roster["wang"])
    # written before the services refused control characters
    Transfer.objects.filter(pk=letter.pk).update(counterpart="外省\x01某支部", reason="调\x0b动")
    docx = alice.get(reverse("transfers:letter_docx", args=[letter.pk]))
    assert docx.status_code == 200
    assert "外省某支部" in "\n".join(docx_text(docx.content))
    assert alice.get(reverse("transfers:letter_pdf", args=[letter.pk])).status_code == 200


def test_a_letter_with_control_characters_is_refused_on_the_page(people, roster, client_for):
    before = state()
    response = issue(client_for(people["alice"]), roster["wang"], counterpart="外省\x01某支部")
    assert response.status_code == 400
    assert response.context["form"].errors["counterpart"] == [
        "Remove the control characters from “organisation outside the platform”."
    ]
    assert response.context["form"]["counterpart"].value() == "外省\x01某支部"
    assert state() == before
