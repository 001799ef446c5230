"""An administrator keeps the working-day calendar on a phone: tapping a day fills the form."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOLIDAY = re.compile(r"\bdj-holiday\b")  # with dj-today besides on the day itself


def test_administrator_marks_a_day_by_tapping_it(live_server, phone, admin, tmp_path):
    from dangjian.core import workdays
    from dangjian.core.models import CalendarDay

    workdays.load_defaults()
    base = live_server.url
    login(phone, base, "root", PASSWORD)
    phone.goto(f"{base}/calendar/2026/")

    holiday = phone.locator("td[data-day='2026-10-01']")
    expect(holiday).to_have_class(HOLIDAY)
    assert holiday.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    # Tapping an entered day fills in what it holds; tapping a plain day only its date.
    phone.locator("td[data-day='2026-10-10'] button").tap()
    expect(phone.locator("#id_day")).to_have_value("2026-10-10")
    expect(phone.locator("#id_kind")).to_have_value("workday")
    expect(phone.locator("#id_name")).to_have_value("国庆节")
    phone.locator("td[data-day='2026-10-08'] button").tap()
    expect(phone.locator("#id_day")).to_have_value("2026-10-08")
    phone.select_option("#id_kind", "holiday")
    phone.fill("#id_name", "延长假期")
    phone.get_by_test_id("calendar-form").locator("button[type=submit]").click()

    expect(phone.locator("td[data-day='2026-10-08']")).to_have_class(HOLIDAY)
    assert CalendarDay.objects.get(date=datetime.date(2026, 10, 8)).name == "延长假期"
    # The months stack in one column on a phone: nothing sticks out sideways.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(tmp_path / "calendar-phone.png"), full_page=False)
