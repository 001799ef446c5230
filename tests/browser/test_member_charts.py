"""The structure charts draw in a real browser, on a phone, without horizontal scrolling."""

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_structure_charts_draw_on_a_phone(live_server, phone, people, roster, tree):
    login(phone, live_server.url, "oscar", PASSWORD)
    errors = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.goto(f"{live_server.url}/members/charts/?org={tree['town'].pk}")
    phone.wait_for_selector("#chart-sex canvas")
    for key in ("sex", "age", "education", "party_years", "joined"):
        assert phone.locator(f"#chart-{key} canvas").count() == 1, key
    assert phone.locator('[data-testid="table-sex"] tfoot th.text-end').inner_text() == "5"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1
    assert not errors
