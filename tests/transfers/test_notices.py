"""The other side hears of a transfer in its notifications: the receiving side when it starts,
the sending side when it is answered; never the person who acted, never a bystander."""

import pytest

from dangjian.core.models import Notification
from dangjian.transfers import services

pytestmark = pytest.mark.django_db


def told(user):
    return list(Notification.objects.filter(user=user).values_list("key", flat=True))


@pytest.fixture
def carol(make_user, admin, tree):
    from dangjian.core import services as core_services

    carol = make_user("carol")
    core_services.assign_role(actor=admin, user=carol, org=tree["other_town"], role="org_admin")
    return carol


def test_starting_tells_the_receiving_side(people, tree, roster, carol):
    t = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    assert told(people["bob"]) == [f"transfer:{t.pk}:started"]
    assert told(people["oscar"]) == [f"transfer:{t.pk}:started"]  # the committee above B
    assert told(people["alice"]) == []
    assert told(carol) == []
    note = Notification.objects.get(user=people["bob"])
    assert "张三" in note.title and note.url.endswith(f"/transfers/{t.pk}/")


@pytest.mark.parametrize("answer", ["accept", "return"])
def test_the_answer_tells_the_sending_side(people, tree, roster, carol, answer):
    t = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    if answer == "accept":
        services.accept_transfer(actor=people["bob"], transfer=t)
        key = f"transfer:{t.pk}:completed"
    else:
        services.return_transfer(actor=people["bob"], transfer=t, reason="不在本单位")
        key = f"transfer:{t.pk}:returned"
    assert key in told(people["alice"])
    assert key not in told(people["bob"])
    assert told(carol) == []


def test_a_member_sees_their_own_transfer_and_stay_on_my_record(
    people, tree, roster, make_user, admin, client_for
):
    import datetime

    from django.urls import reverse
    from django.utils import timezone

    from dangjian.core import services as core_services
    from dangjian.members.models import Member

    user = make_user("zhangsan")
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="member")
    Member.objects.filter(pk=roster["zhang"].pk).update(user=user)
    client = client_for(user)
    page = client.get(reverse("members:me"), HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="my-movement"' not in page.content.decode()
    services.register_mobile_out(
        actor=people["alice"],
        member=roster["zhang"],
        destination="深圳市某街道党工委",
        since=timezone.localdate() - datetime.timedelta(days=3),
        card_number="LD-0042",
    )
    services.start_transfer(actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    html = client.get(reverse("members:me")).content.decode()
    assert 'data-testid="my-movement"' in html
    assert "西街社区党支部" in html and "深圳市某街道党工委" in html and "LD-0042" in html


def test_a_stuck_transfer_reminds_the_receiving_side_once(people, tree, roster, carol, settings):
    import datetime

    from django.utils import timezone

    from dangjian.transfers import notices

    settings.TRANSFER_STUCK_DAYS = 30
    today = timezone.localdate()
    t = services.start_transfer(
        actor=people["alice"],
        member=roster["zhang"],
        to_org=tree["branch_b"],
        on=today - datetime.timedelta(days=31),
    )
    fresh = services.start_transfer(
        actor=people["alice"], member=roster["wang"], to_org=tree["branch_b"]
    )
    Notification.objects.all().delete()
    assert notices.remind_stuck_transfers(today) == 2  # bob and oscar, above B
    assert notices.remind_stuck_transfers(today) == 0  # once
    assert told(people["bob"]) == [f"transfer:{t.pk}:stuck"]
    assert f"transfer:{fresh.pk}:stuck" not in told(people["oscar"])
    assert told(people["alice"]) == [] and told(carol) == []


def test_a_second_sweep_does_not_look_at_transfers_reminded_before(people, tree, roster, settings):
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dangjian.transfers import notices

    settings.TRANSFER_STUCK_DAYS = 30
    long_ago = timezone.localdate() - datetime.timedelta(days=40)
    for key in ("zhang", "wang"):
        services.start_transfer(
            actor=people["alice"], member=roster[key], to_org=tree["branch_b"], on=long_ago
        )
    assert notices.remind_stuck_transfers() == 4  # two transfers, bob and oscar each
    with CaptureQueriesContext(connection) as captured:
        assert notices.remind_stuck_transfers() == 0
    assert len(captured) == 1  # the query that finds nothing left to remind


def test_withdrawing_tells_the_receiving_side(people, tree, roster):
    t = services.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    services.cancel_transfer(actor=people["alice"], transfer=t, reason="填错了")
    assert f"transfer:{t.pk}:cancelled" in told(people["bob"])
    assert f"transfer:{t.pk}:cancelled" not in told(people["alice"])
