"""The timeline and the transfers stay in step (members.services.record_event).

Transfers and mobile stays are the transfers services' own events: the member event form and
the members API refuse them (use_transfers), pointing to the Transfers and Mobile members pages.
An end of membership (deceased, removed, expelled, left, qualification cancelled) waits for a
pending transfer to be decided, and ends an active mobile stay on the same day.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.core.errors import ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.members import services
from dangjian.members.forms import EventForm
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services as transfers
from dangjian.transfers.models import MobileStay, Transfer

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat
TRANSFERS_OWN = ["transferred", "transferred_in", "transferred_out", "mobile_out", "mobile_back"]
ENDS = ["deceased", "removed", "expelled", "left"]


def today() -> datetime.date:
    return timezone.localdate()


def state() -> tuple:
    return (
        list(
            Member.objects.order_by("pk").values_list(
                "pk", "organization_id", "status", "mobile", "org_path"
            )
        ),
        StandingEvent.objects.count(),
        list(MobileStay.objects.order_by("pk").values_list("pk", "state", "returned_on")),
        list(Transfer.objects.order_by("pk").values_list("pk", "state")),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("kind", TRANSFERS_OWN)
def test_the_transfers_own_events_are_refused(people, tree, roster, kind):
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(
            actor=people["oscar"],
            member=roster["zhang"],
            kind=kind,
            on=D("2025-03-01"),
            organization=tree["branch_b"],
        )
    assert (exc.value.code, exc.value.field) == ("use_transfers", "kind")
    assert "Transfers" in str(exc.value.message) or "转" in str(exc.value.message)
    assert state() == before


def test_the_event_form_offers_none_of_them(people, roster, client_for):
    offered = {value for value, _label in EventForm().fields["kind"].choices}
    assert not offered & set(TRANSFERS_OWN)
    assert {"deceased", "lost_contact", "suspended", "became_full"} <= offered
    page = client_for(people["alice"]).get(
        reverse("members:event_create", args=[roster["zhang"].pk])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="lost_contact"' in text
    for kind in TRANSFERS_OWN:
        assert f'value="{kind}"' not in text


def test_posting_one_to_the_page_changes_nothing(people, roster, client_for):
    before = state()
    response = client_for(people["alice"]).post(
        reverse("members:event_create", args=[roster["zhang"].pk]),
        {"kind": "transferred_out", "occurred_on": "2025-03-01"},
    )
    assert response.status_code == 200 and response.context["form"].errors["kind"]
    assert state() == before


@pytest.mark.parametrize("kind", ENDS)
def test_an_end_of_membership_waits_for_a_pending_transfer(people, tree, roster, kind):
    zhang = roster["zhang"]
    transfers.start_transfer(actor=people["alice"], member=zhang, to_org=tree["branch_b"])
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(actor=people["alice"], member=zhang, kind=kind, on=today())
    assert (exc.value.code, exc.value.field) == ("transfer_pending", "kind")
    assert "张三" in str(exc.value.message)
    assert state() == before


def test_also_a_letter_out_of_the_platform(people, tree, roster):
    zhang = roster["zhang"]
    transfers.issue_letter(actor=people["alice"], member=zhang, counterpart="外省某县委组织部")
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(actor=people["alice"], member=zhang, kind="deceased", on=today())
    assert exc.value.code == "transfer_pending"
    assert state() == before


def test_a_probationary_qualification_cancelled_waits_too(people, tree, roster):
    li = roster["li"]  # probationary
    transfers.start_transfer(actor=people["alice"], member=li, to_org=tree["branch_b"])
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(
            actor=people["alice"], member=li, kind="qualification_cancelled", on=today()
        )
    assert exc.value.code == "transfer_pending"


def test_once_the_transfer_is_decided_the_end_is_recorded(people, tree, roster):
    zhang = roster["zhang"]
    transfer = transfers.start_transfer(
        actor=people["alice"], member=zhang, to_org=tree["branch_b"]
    )
    transfers.cancel_transfer(actor=people["alice"], transfer=transfer, reason="本人去世")
    services.record_event(actor=people["alice"], member=zhang, kind="deceased", on=today())
    zhang.refresh_from_db()
    assert zhang.status == "deceased"


@pytest.mark.parametrize("kind", ENDS)
def test_an_end_of_membership_ends_the_mobile_stay(people, roster, kind):
    zhang = roster["zhang"]
    since = today() - datetime.timedelta(days=40)
    stay = transfers.register_mobile_out(
        actor=people["alice"], member=zhang, destination="深圳市南山区", since=since
    )
    on = today() - datetime.timedelta(days=3)
    services.record_event(actor=people["alice"], member=zhang, kind=kind, on=on)
    stay.refresh_from_db()
    zhang.refresh_from_db()
    assert (stay.state, stay.returned_on) == ("returned", on)
    assert (zhang.status, zhang.mobile, zhang.mobile_destination) == (kind, False, "")
    # The timeline says so, in order: out, back, the end.
    assert list(zhang.events.order_by("occurred_on", "id").values_list("kind", flat=True))[-3:] == [
        "mobile_out",
        "mobile_back",
        kind,
    ]
    [event] = AuditEvent.objects.filter(action="mobile.return", object_id=str(stay.pk))
    assert event.after == {"state": "returned", "returned_on": on.isoformat()}
    assert event.subject == services.subject_of(zhang)
    # Nobody lists a stay of someone no longer a member.
    assert not MobileStay.objects.filter(member=zhang, state="active").exists()


def test_an_end_before_the_stay_began_is_refused(people, roster):
    zhang = roster["zhang"]
    since = today() - datetime.timedelta(days=40)
    transfers.register_mobile_out(
        actor=people["alice"], member=zhang, destination="深圳市", since=since
    )
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(
            actor=people["alice"],
            member=zhang,
            kind="deceased",
            on=since - datetime.timedelta(days=1),
        )
    # The later mobile_out event makes the end impossible on the timeline itself.
    assert (exc.value.code, exc.value.field) == ("later_events", "kind")
    assert state() == before


def test_a_stay_out_of_step_with_the_timeline_is_not_ended_before_it_began(people, roster):
    """A stay recorded without its timeline event (before the two were kept in step) still
    cannot end before it began."""
    zhang = roster["zhang"]
    since = today() - datetime.timedelta(days=5)
    MobileStay.objects.create(
        member=zhang,
        person_name=zhang.name,
        home_org=zhang.organization,
        destination="深圳市",
        since=since,
    )
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(
            actor=people["alice"], member=zhang, kind="left", on=since - datetime.timedelta(days=1)
        )
    assert (exc.value.code, exc.value.field) == ("before_mobile_stay", "occurred_on")
    assert state() == before


def test_an_end_that_does_not_fit_leaves_the_stay_alone(people, roster):
    """A full member's probationary qualification cannot be cancelled: that is the error shown,
    and the stay goes on."""
    zhang = roster["zhang"]
    transfers.register_mobile_out(
        actor=people["alice"],
        member=zhang,
        destination="深圳市",
        since=today() - datetime.timedelta(days=10),
    )
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.record_event(
            actor=people["alice"], member=zhang, kind="qualification_cancelled", on=today()
        )
    assert (exc.value.code, exc.value.field) == ("not_probationary", "kind")
    assert state() == before


def test_other_events_leave_the_stay_alone(people, roster):
    zhang = roster["zhang"]
    stay = transfers.register_mobile_out(
        actor=people["alice"],
        member=zhang,
        destination="深圳市",
        since=today() - datetime.timedelta(days=10),
    )
    services.record_event(actor=people["alice"], member=zhang, kind="lost_contact", on=today())
    stay.refresh_from_db()
    zhang.refresh_from_db()
    assert stay.state == "active" and zhang.mobile and zhang.out_of_contact


def test_the_members_api_answers_the_code(people, tree, roster):
    from tests.members.test_api import ApiClient, assert_error

    oscar = ApiClient(people["oscar"])
    zhang = roster["zhang"]
    before = state()
    for kind in TRANSFERS_OWN:
        response = oscar.post(
            f"/api/v1/members/{zhang.pk}/events",
            {"kind": kind, "on": "2025-03-01", "organization_id": tree["branch_b"].pk},
        )
        assert_error(response, 400, "use_transfers", "kind")
    assert state() == before
    transfers.start_transfer(actor=people["alice"], member=zhang, to_org=tree["branch_b"])
    before = state()
    response = oscar.post(
        f"/api/v1/members/{zhang.pk}/events", {"kind": "left", "on": today().isoformat()}
    )
    assert_error(response, 400, "transfer_pending", "kind")
    assert state() == before
