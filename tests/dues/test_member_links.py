"""The member's record page leads to their dues base and relief, for those who may use them."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_dues_links_on_the_member_record(roster, people, client_for, make_user, admin, tree):
    from dangjian.core import services as core_services

    zhang = roster["zhang"]
    url = reverse("members:detail", args=[zhang.pk])
    page = client_for(people["alice"]).get(url).content.decode()
    assert 'data-testid="dues-base"' in page and 'data-testid="dues-relief"' in page
    viewer = make_user("viewer")
    core_services.assign_role(actor=admin, user=viewer, org=tree["branch_a"], role="auditor")
    page = client_for(viewer).get(url).content.decode()
    assert 'data-testid="dues-base"' in page  # auditors see dues
    assert 'data-testid="dues-relief"' not in page  # but record nothing
