import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_every_page_renders_for_alice(people, tree, client_for):
    c = client_for(people["alice"])
    a = tree["branch_a"]
    for url in [
        reverse("core:home"),
        reverse("core:org_tree"),
        reverse("core:org_tree") + "?q=东街",
        reverse("core:org_detail", args=[a.pk]),
        reverse("core:org_children", args=[a.pk]),
        reverse("core:org_create", args=[a.pk]),
        reverse("core:org_edit", args=[a.pk]),
        reverse("core:audit_list"),
        reverse("core:profile"),
        reverse("core:password_change"),
    ]:
        response = c.get(url)
        assert response.status_code == 200, url
