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
