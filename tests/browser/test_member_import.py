"""A branch secretary imports a roster in a real browser: a column the platform does not know,
a column mapped to the wrong field and a bad row are shown before anything is saved; she fixes
them, imports, waits for the job and finds the members in the list."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.members.import_files import unique_id, write_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADERS = ["姓名", "证件编号", "入党时间", "转正时间", "联系电话"]


def rows(bad: bool):
    out = []
    for n, name in enumerate(["周一鸣", "吴二妹", "郑三多"], 1):
        number, _birth = unique_id(5000 + n)
        out.append([name, number, "2010.07.01", "2011年7月1日", f"0531-8800{n:04d}"])
    if bad:
        out[1][2] = "2010年13月1日"
    return out


def map_columns(page):
    """The unknown column is the ID number; the 'phone' column holds landlines."""
    page.locator("select[data-header='证件编号']").select_option("id_number")
    page.locator("select[data-header='联系电话']").select_option("telephone")


def test_secretary_imports_a_roster(live_server, page, people, tree, tmp_path):
    from dangjian.core import jobs
    from dangjian.members.models import Member, MemberImport

    base = live_server.url
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/members/import/")
    page.select_option("#id_organization", str(tree["branch_a"].pk))
    page.set_input_files(
        "#id_file", str(write_xlsx(tmp_path / "名册.xlsx", rows(bad=True), HEADERS))
    )
    page.get_by_test_id("import-upload").locator("button[type=submit]").click()

    # The mapping as suggested: 证件编号 unknown, 联系电话 taken for the mobile phone.
    expect(page.get_by_test_id("import-mapping")).to_be_visible()
    assert page.locator("select[data-header='证件编号']").input_value() == ""
    assert page.locator("select[data-header='联系电话']").input_value() == "phone"
    page.get_by_test_id("check-rows").click()
    expect(page.get_by_test_id("mapping-error")).to_contain_text("公民身份号码")

    page.locator("select[data-header='证件编号']").select_option("id_number")
    page.get_by_test_id("check-rows").click()
    problems = page.get_by_test_id("import-problems")
    expect(problems).to_be_visible()
    # every row: landlines are not mobile numbers; row 2: not a real date
    expect(page.locator("[data-count=errors]")).to_have_text("3")
    expect(problems.locator("[data-code=invalid_phone]").first).to_contain_text("联系电话")
    expect(problems.locator("[data-code=invalid_date]")).to_contain_text("入党时间")
    assert page.get_by_test_id("import-commit").count() == 0

    page.get_by_test_id("change-mapping").click()
    page.locator("select[data-header='联系电话']").select_option("telephone")
    page.get_by_test_id("check-rows").click()
    expect(page.locator("[data-count=errors]")).to_have_text("1")
    assert Member.objects.count() == 0

    # A corrected file.
    page.goto(f"{base}/members/import/?org={tree['branch_a'].pk}")
    page.set_input_files(
        "#id_file", str(write_xlsx(tmp_path / "名册2.xlsx", rows(bad=False), HEADERS))
    )
    page.get_by_test_id("import-upload").locator("button[type=submit]").click()
    map_columns(page)
    page.get_by_test_id("check-rows").click()
    expect(page.locator("[data-count=errors]")).to_have_text("0")
    page.get_by_test_id("import-commit").click()
    expect(page.locator("#job-progress")).to_be_visible()

    imp = MemberImport.objects.exclude(job=None).get()
    assert jobs.execute(str(imp.job_id))  # what the background worker does
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "done", timeout=15_000)
    assert Member.objects.filter(organization=tree["branch_a"]).count() == 3

    page.get_by_test_id("import-members-link").click()
    for name in ("周一鸣", "吴二妹", "郑三多"):
        expect(page.get_by_text(name).first).to_be_visible()
