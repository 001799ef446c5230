import datetime
import pytest
from django.utils import timezone

from dangjian.dues import ledger, services
from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shots(live_server, page, phone, people, roster, tree):
    year = timezone.localdate().year
    alice = people["alice"]
    services.declare_base(actor=alice, member=roster["zhang"], year=year, category="in_service", base="3000")
    services.declare_base(actor=people["bob"], member=roster["zhao"], year=year, category="in_service", base="6000")
    ledger.generate(year, tree["town"])
    services.request_relief(actor=alice, member=roster["wang"], year=year, from_month=1, to_month=12, kind="exempt", reason="病", branch_decided_on=timezone.localdate())
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_server.url, "alice", PASSWORD)
    a = tree["branch_a"].pk
    page.goto(f"{live_server.url}/dues/org/{a}/{year}/bases/")
    # live amount
    rows = page.locator("#bases-grid tbody tr")
    idx = None
    for i in range(rows.count()):
        if "李四" in rows.nth(i).inner_text():
            idx = i
    row = rows.nth(idx)
    row.locator("select").select_option("farmer")
    base = row.locator("[data-col=base]")
    base.fill("0.5")
    page.wait_for_timeout(1200)
    print("AMOUNT", row.locator(".dj-amount").inner_text())
    row.locator("select").select_option("student")
    page.wait_for_timeout(900)
    print("DISABLED", base.is_disabled(), row.locator(".dj-amount").inner_text())
    # enter navigation
    rows.nth(0).locator("[data-col=override]").focus()
    page.keyboard.press("Enter")
    print("FOCUS", page.evaluate("document.activeElement.name"))
    page.screenshot(path="/tmp/h_pages2/bases.png", full_page=True)
    page.click("[data-testid=save-bases]")
    page.wait_for_load_state()
    page.screenshot(path="/tmp/h_pages2/bases_saved.png", full_page=True)
    page.goto(f"{live_server.url}/dues/member/{roster['zhang'].pk}/{year}/base/")
    page.select_option("#id_category", "retired")
    page.fill("#id_base", "6000")
    page.wait_for_timeout(1200)
    print("SINGLE", page.locator("#base-amount").inner_text())
    page.screenshot(path="/tmp/h_pages2/base_edit.png", full_page=True)
    page.goto(f"{live_server.url}/dues/member/{roster['zhang'].pk}/relief/new/")
    page.screenshot(path="/tmp/h_pages2/relief_new.png", full_page=True)
    page.goto(f"{live_server.url}/dues/org/{a}/arrears/")
    page.screenshot(path="/tmp/h_pages2/arrears.png", full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path="/tmp/h_pages2/arrears_print.png", full_page=True)
    page.emulate_media(media="screen")
    login(phone, live_server.url, "oscar", PASSWORD)
    t = tree["town"].pk
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.goto(f"{live_server.url}/dues/org/{t}/{year}/report/")
    phone.wait_for_selector("#report-chart canvas")
    phone.screenshot(path="/tmp/h_pages2/report_phone.png", full_page=True)
    print("WIDTH", phone.evaluate("document.documentElement.scrollWidth"))
    phone.goto(f"{live_server.url}/dues/org/{t}/reliefs/?tab=sign")
    phone.screenshot(path="/tmp/h_pages2/reliefs_phone.png", full_page=True)
    phone.goto(f"{live_server.url}/dues/org/{a}/{year}/bases/")
    phone.screenshot(path="/tmp/h_pages2/bases_phone.png", full_page=True)
    print("WIDTH2", phone.evaluate("document.documentElement.scrollWidth"))
    phone.goto(f"{live_server.url}/dues/org/{t}/{year}/{timezone.localdate().month}/remittance/")
    phone.screenshot(path="/tmp/h_pages2/remit_phone.png", full_page=True)
    print("ERRORS", errors)
