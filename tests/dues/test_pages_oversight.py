"""The dues pages for bases, relief, arrears, the collection report and the remittance, through
the real services (STYLE.md: three people try every page).

- alice: secretary of branch A (inside); oscar: org admin of the township above A and B (above);
  bob: secretary of branch B, A's sibling (404 for anything of A's).
- The bases grid saves every row or none: a wrong row names its cell and every typed value comes
  back. Relief is approved by the branch and signed off by the committee above only. Arrears are
  listed for the branch meeting; a decision is recorded by a person, "left" after a confirmation.
- The report adds up to the ledger lines; its spreadsheet holds the same totals; the report and
  the bases grid keep a fixed number of queries whatever their size.
"""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, reverse
from django.utils import timezone

from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, rules, selectors, services, urls_oversight
from dangjian.dues.models import ArrearsDecision, DuesBase, LedgerLine, Relief, ReliefState

pytestmark = pytest.mark.django_db


def today() -> datetime.date:
    return timezone.localdate()


def this_year() -> int:
    return today().year


def html(response) -> str:
    return response.content.decode()


def row_html(page: str, index: int) -> str:
    """The HTML of one row of the bases grid."""
    start = page.index(f'data-testid="row-{index}"')
    end = page.find('data-testid="row-', start + 10)
    return page[start : end if end != -1 else len(page)]


@pytest.fixture
def en(client_for):
    """A logged-in client that reads the pages in English."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


@pytest.fixture
def dues(people, tree, roster):
    """Bases for this year in branches A and B (张三 in service 3000 → 15.00, 王五 retired
    4000 → 20.00, 赵六 in service 6000 → 90.00), the year's ledger of the township, and
    张三's January paid. 李四 and 钱七 have no base."""
    alice, bob = people["alice"], people["bob"]
    year = this_year()
    services.declare_base(
        actor=alice, member=roster["zhang"], year=year, category="in_service", base="3000"
    )
    services.declare_base(
        actor=alice, member=roster["wang"], year=year, category="retired", base="4000"
    )
    services.declare_base(
        actor=bob, member=roster["zhao"], year=year, category="in_service", base="6000"
    )
    ledger.generate(year, tree["town"])
    services.record_payment(
        actor=alice,
        member=roster["zhang"],
        months=[(year, 1)],
        paid_on=today(),
        method="cash",
        confirm_late=True,
    )
    return {"year": year}


@pytest.fixture
def relief(people, roster, dues):
    return services.request_relief(
        actor=people["alice"],
        member=roster["wang"],
        year=dues["year"],
        from_month=1,
        to_month=12,
        kind="exempt",
        reason="长期患病，生活困难",
        branch_decided_on=today(),
        branch_reference="支委会2026-3",
    )


# Three people ---------------------------------------------------------------------------------


def page_urls(tree, roster, relief, year) -> dict[str, str]:
    """One address of each page, about branch A or one of its members."""
    a, zhang = tree["branch_a"], roster["zhang"]
    return {
        "bases": reverse("dues:bases", args=[a.pk, year]),
        "bases_amount": reverse("dues:bases_amount")
        + f"?year={year}&row=0&rows-0-category=in_service&rows-0-base=3000",
        "base_edit": reverse("dues:base_edit", args=[zhang.pk, year]),
        "relief_new": reverse("dues:relief_new", args=[zhang.pk]),
        "reliefs": reverse("dues:reliefs", args=[a.pk]),
        "relief_sign": reverse("dues:relief_sign", args=[relief.pk]),
        "arrears": reverse("dues:arrears", args=[a.pk]),
        "arrears_decide": reverse("dues:arrears_decide", args=[zhang.pk]),
        "report": reverse("dues:report", args=[a.pk, year]),
        "report_xlsx": reverse("dues:report_xlsx", args=[a.pk, year]),
        "remittance": reverse("dues:remittance", args=[a.pk, year, 1]),
    }


# Pages that read no organisation's data answer everyone signed in.
OPEN_TO_ALL = {"bases_amount"}


def test_the_matrix_covers_every_page_of_this_file(tree, roster, relief, dues):
    names = {p.name for p in urls_oversight.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(page_urls(tree, roster, relief, dues["year"]))


@pytest.mark.parametrize(
    "name",
    [
        "bases",
        "bases_amount",
        "base_edit",
        "relief_new",
        "reliefs",
        "relief_sign",
        "arrears",
        "arrears_decide",
        "report",
        "report_xlsx",
        "remittance",
    ],
)
def test_three_people(name, client_for, people, tree, roster, relief, dues):
    url = page_urls(tree, roster, relief, dues["year"])[name]
    assert client_for(people["alice"]).get(url).status_code == 200
    assert client_for(people["oscar"]).get(url).status_code == 200
    expected = 200 if name in OPEN_TO_ALL else 404
    assert client_for(people["bob"]).get(url).status_code == expected


def test_anonymous_is_sent_to_log_in(client, tree, roster, relief, dues):
    for url in page_urls(tree, roster, relief, dues["year"]).values():
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_report_of_the_township_is_above_alice(client_for, people, tree, dues):
    url = reverse("dues:report", args=[tree["town"].pk, dues["year"]])
    assert client_for(people["oscar"]).get(url).status_code == 200
    assert client_for(people["alice"]).get(url).status_code == 404


def test_posting_as_the_sibling_changes_nothing(client_for, people, tree, roster, relief, dues):
    bob = client_for(people["bob"])
    year = dues["year"]
    zhang = roster["zhang"]
    response = bob.post(
        reverse("dues:base_edit", args=[zhang.pk, year]),
        {"category": "retired", "base": "9000"},
    )
    assert response.status_code == 404
    response = bob.post(reverse("dues:relief_sign", args=[relief.pk]), {"decision": "approve"})
    assert response.status_code == 404
    response = bob.post(
        reverse("dues:arrears_decide", args=[zhang.pk]),
        {"outcome": "warned", "meeting_on": today().isoformat()},
    )
    assert response.status_code == 404
    assert DuesBase.objects.get(member=zhang, year=year).category == "in_service"
    relief.refresh_from_db()
    assert relief.state == ReliefState.PENDING
    assert not ArrearsDecision.objects.exists()


# The bases grid -------------------------------------------------------------------------------


def grid_post(year, rows: list[dict]) -> dict:
    data = {
        "rows-TOTAL_FORMS": str(len(rows)),
        "rows-INITIAL_FORMS": str(len(rows)),
        "rows-MIN_NUM_FORMS": "0",
        "rows-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key in ("member", "category", "base", "override", "override_reason"):
            data[f"rows-{i}-{key}"] = str(row.get(key, ""))
    return data


def test_grid_shows_one_row_per_active_member_with_its_base(en, people, tree, roster, dues):
    page = html(
        en(people["alice"]).get(reverse("dues:bases", args=[tree["branch_a"].pk, dues["year"]]))
    )
    rows = re.findall(r'data-testid="row-\d+" data-member="(\d+)"', page)
    assert sorted(int(r) for r in rows) == sorted(
        m.pk for m in (roster["zhang"], roster["li"], roster["wang"])
    )
    index = rows.index(str(roster["zhang"].pk))
    row = row_html(page, index)
    assert 'value="3000.00"' in row and "15.00" in row


def test_grid_saves_every_row_or_none(en, people, tree, roster):
    a = tree["branch_a"]
    year = this_year()
    url = reverse("dues:bases", args=[a.pk, year])
    rows = [
        {"member": roster["zhang"].pk, "category": "in_service", "base": "3000"},
        {"member": roster["li"].pk, "category": "farmer", "base": "5"},
        {"member": roster["wang"].pk, "category": "retired", "base": "4321.5"},
    ]
    response = en(people["alice"]).post(url, grid_post(year, rows))
    assert response.status_code == 400
    assert not DuesBase.objects.filter(year=year).exists()
    page = html(response)
    assert 'data-testid="grid-error"' in page
    bad = row_html(page, 1)
    assert 'data-testid="error-base"' in bad
    assert "A farmer pays between 0.20 and 1.00 yuan a month." in bad
    assert 'value="5"' in bad
    # The good rows kept what was typed and carry no error.
    assert 'value="3000"' in row_html(page, 0) and "error-" not in row_html(page, 0)
    assert 'value="4321.5"' in row_html(page, 2) and "error-" not in row_html(page, 2)
    # Corrected, the same grid saves all three.
    rows[1]["base"] = "0.5"
    response = en(people["alice"]).post(url, grid_post(year, rows))
    assert response.status_code == 302
    saved = {b.member_id: b for b in DuesBase.objects.filter(year=year)}
    assert saved[roster["li"].pk].amount == Decimal("0.50")
    assert saved[roster["zhang"].pk].amount == Decimal("15.00")
    assert saved[roster["wang"].pk].amount == Decimal("21.61")


def test_grid_farmer_outside_the_range_is_refused(en, people, tree, roster):
    year = this_year()
    rows = [{"member": roster["zhang"].pk, "category": "farmer", "base": "0.10"}]
    response = en(people["alice"]).post(
        reverse("dues:bases", args=[tree["branch_a"].pk, year]), grid_post(year, rows)
    )
    assert response.status_code == 400
    assert "A farmer pays between 0.20 and 1.00 yuan a month." in row_html(html(response), 0)
    assert not DuesBase.objects.exists()


def test_grid_override_needs_a_reason(en, people, tree, roster):
    year = this_year()
    url = reverse("dues:bases", args=[tree["branch_a"].pk, year])
    rows = [
        {"member": roster["zhang"].pk, "category": "in_service", "base": "3000", "override": "10"}
    ]
    response = en(people["alice"]).post(url, grid_post(year, rows))
    assert response.status_code == 400
    row = row_html(html(response), 0)
    assert 'data-testid="error-override_reason"' in row and 'value="10"' in row
    assert not DuesBase.objects.exists()
    rows[0]["override_reason"] = "单位证明收入下降"
    assert en(people["alice"]).post(url, grid_post(year, rows)).status_code == 302
    base = DuesBase.objects.get(member=roster["zhang"], year=year)
    assert base.amount == Decimal("10.00") and base.computed == Decimal("15.00")
    event = AuditEvent.objects.get(action="dues.base.declare", object_id=str(base.pk))
    assert event.after["override_reason"] == "单位证明收入下降"


def test_grid_warns_of_unusual_amounts_but_saves(en, people, tree, roster):
    year = this_year()
    rows = [{"member": roster["zhang"].pk, "category": "in_service", "base": "60000"}]
    response = en(people["alice"]).post(
        reverse("dues:bases", args=[tree["branch_a"].pk, year]),
        grid_post(year, rows),
        follow=True,
    )
    assert DuesBase.objects.get(member=roster["zhang"], year=year).amount == Decimal("1200.00")
    assert "are unusual" in html(response)
    assert 'data-testid="unusual"' in html(response)


def test_grid_rows_without_a_category_are_left_alone(en, people, tree, roster, dues):
    year = dues["year"]
    rows = [
        {"member": roster["li"].pk, "category": "student"},
        {"member": roster["zhang"].pk, "category": ""},
    ]
    response = en(people["alice"]).post(
        reverse("dues:bases", args=[tree["branch_a"].pk, year]), grid_post(year, rows)
    )
    assert response.status_code == 302
    assert DuesBase.objects.get(member=roster["li"], year=year).amount == Decimal("0.20")
    assert DuesBase.objects.get(member=roster["zhang"], year=year).amount == Decimal("15.00")


def test_grid_copies_last_year_without_saving(en, people, tree, roster):
    year = this_year()
    services.declare_base(
        actor=people["alice"],
        member=roster["wang"],
        year=year - 1,
        category="retired",
        base="4000",
    )
    page = html(
        en(people["alice"]).get(reverse("dues:bases", args=[tree["branch_a"].pk, year]) + "?copy=1")
    )
    assert 'data-testid="copied"' in page
    rows = re.findall(r'data-testid="row-\d+" data-member="(\d+)"', page)
    row = row_html(page, rows.index(str(roster["wang"].pk)))
    assert 'value="4000.00"' in row and 'value="retired" selected' in row
    assert not DuesBase.objects.filter(year=year).exists()


def test_a_committee_gets_a_list_of_branches(en, people, tree, dues):
    page = html(
        en(people["oscar"]).get(reverse("dues:bases", args=[tree["town"].pk, dues["year"]]))
    )
    assert 'data-testid="branch-list"' in page
    assert reverse("dues:bases", args=[tree["branch_a"].pk, dues["year"]]) in page
    assert 'data-testid="bases-grid"' not in page


def test_amount_endpoint_computes_by_the_rules(en, people):
    url = reverse("dues:bases_amount")
    c = en(people["alice"])
    year = this_year()
    page = html(
        c.get(
            url, {"year": year, "row": 3, "rows-3-category": "in_service", "rows-3-base": "3000.01"}
        )
    )
    assert "30.00" in page
    page = html(
        c.get(url, {"year": year, "row": 0, "rows-0-category": "farmer", "rows-0-base": "2"})
    )
    assert "A farmer pays between" in page
    page = html(c.get(url, {"year": year, "category": "student"}))
    assert "0.20" in page


def test_the_first_year_of_the_rules_has_its_pages(en, people, tree, roster):
    """2008: the first rules took effect on 1 February and count January too; the bases page,
    the amount shown while typing and the template of that year work like any other's."""
    c = en(people["alice"])
    a = tree["branch_a"]
    page = c.get(reverse("dues:bases", args=[a.pk, 2008]))
    assert page.status_code == 200 and 'data-testid="bases-grid"' in html(page)
    answer = c.get(
        reverse("dues:bases_amount"),
        {"year": 2008, "row": 0, "rows-0-category": "in_service", "rows-0-base": "3000"},
    )
    assert answer.status_code == 200 and "15.00" in html(answer)
    template = c.get(reverse("dues:bases_template", args=[a.pk, 2008]))
    assert template.status_code == 200 and template.content[:2] == b"PK"


@pytest.mark.parametrize(
    "typed",
    [
        {"rows-0-base": "1e30"},
        {"rows-0-base": "1E999999999999999999"},
        {"rows-0-base": "3000", "rows-0-override": "1e30"},
        {"rows-0-base": "3000", "rows-0-override": "-1e999999999999999999"},
    ],
)
def test_a_huge_number_typed_is_a_message_not_an_error_page(en, people, tree, roster, typed):
    c = en(people["alice"])
    year = this_year()
    answer = c.get(
        reverse("dues:bases_amount"),
        {"year": year, "row": 0, "rows-0-category": "in_service", **typed},
    )
    assert answer.status_code == 200
    if "rows-0-override" in typed:  # the amount by the rules stays; the typed one is refused
        assert 'data-testid="amount">15.00<' in html(answer)
    else:
        assert 'data-testid="amount-problem"' in html(answer)
    row = {"member": roster["zhang"].pk, "category": "in_service", "override_reason": "x"}
    row |= {key.removeprefix("rows-0-"): value for key, value in typed.items()}
    response = c.post(
        reverse("dues:bases", args=[tree["branch_a"].pk, year]), grid_post(year, [row])
    )
    assert response.status_code == 400
    assert not DuesBase.objects.exists()
    response = c.post(
        reverse("dues:base_edit", args=[roster["zhang"].pk, year]),
        {key.removeprefix("rows-0-"): value for key, value in typed.items()}
        | {"category": "in_service", "override_reason": "x"},
    )
    assert response.status_code == 400


def test_the_grid_keeps_its_queries_whatever_its_size(
    client_for, people, tree, roster, make_member
):
    a = tree["branch_a"]
    year = this_year()
    url = reverse("dues:bases", args=[a.pk, year])
    c = client_for(people["alice"])
    c.get(url)
    with CaptureQueriesContext(connection) as small:
        assert c.get(url).status_code == 200
    for i in range(6):
        member = make_member(a, f"新党员{i}", birth=f"1981-02-0{i + 1}")
        services.declare_base(
            actor=people["alice"], member=member, year=year, category="retired", base="3000"
        )
    with CaptureQueriesContext(connection) as large:
        page = c.get(url)
    assert page.content.decode().count('data-testid="row-') == 9
    assert len(large) == len(small)


# One member's base ----------------------------------------------------------------------------


def test_base_edit_needs_a_reason_for_a_hand_set_amount(en, people, roster):
    year = this_year()
    zhang = roster["zhang"]
    url = reverse("dues:base_edit", args=[zhang.pk, year])
    c = en(people["alice"])
    response = c.post(url, {"category": "in_service", "base": "5000", "override": "20"})
    assert response.status_code == 400
    assert "Give the reason for setting the amount by hand." in html(response)
    assert not DuesBase.objects.exists()
    response = c.post(
        url,
        {"category": "in_service", "base": "5000", "override": "20", "override_reason": "困难"},
    )
    assert response.status_code == 302
    base = DuesBase.objects.get(member=zhang, year=year)
    assert (base.computed, base.amount) == (Decimal("50.00"), Decimal("20.00"))
    assert "Declared: In service, 20.00 yuan a month" in html(c.get(url))


def test_base_edit_as_the_committee_above(en, people, roster):
    year = this_year()
    response = en(people["oscar"]).post(
        reverse("dues:base_edit", args=[roster["wang"].pk, year]),
        {"category": "retired", "base": "5000.01"},
    )
    assert response.status_code == 302
    assert DuesBase.objects.get(member=roster["wang"], year=year).amount == Decimal("50.00")


# Relief ---------------------------------------------------------------------------------------


def test_relief_by_the_branch_signed_off_by_the_committee_above(en, people, tree, roster, dues):
    year = dues["year"]
    wang = roster["wang"]
    alice, oscar = en(people["alice"]), en(people["oscar"])
    response = alice.post(
        reverse("dues:relief_new", args=[wang.pk]),
        {
            "year": year,
            "from_month": 1,
            "to_month": 12,
            "kind": "reduce",
            "amount": "5",
            "reason": "长期患病",
            "branch_decided_on": today().isoformat(),
            "branch_reference": "支委会记录",
        },
    )
    assert response.status_code == 302
    found = Relief.objects.get(member=wang)
    assert (found.state, found.amount) == (ReliefState.PENDING, Decimal("5.00"))

    # The branch cannot sign its own relief: no button, and a crafted request is refused.
    page = html(alice.get(reverse("dues:reliefs", args=[tree["branch_a"].pk]) + "?tab=all"))
    assert f'data-testid="relief-{found.pk}"' in page
    assert f'data-testid="sign-{found.pk}"' not in page
    assert 'data-testid="sign-form"' not in html(
        alice.get(reverse("dues:relief_sign", args=[found.pk]))
    )
    response = alice.post(reverse("dues:relief_sign", args=[found.pk]), {"decision": "approve"})
    assert response.status_code == 403
    found.refresh_from_db()
    assert found.state == ReliefState.PENDING

    # The committee above sees it waiting and signs it off.
    page = html(oscar.get(reverse("dues:reliefs", args=[tree["town"].pk]) + "?tab=sign"))
    assert f'data-testid="sign-{found.pk}"' in page
    assert re.search(r'data-testid="to-sign-count">1<', page)
    response = oscar.post(
        reverse("dues:relief_sign", args=[found.pk]),
        {"decision": "approve", "next": reverse("dues:reliefs", args=[tree["town"].pk])},
    )
    assert response.status_code == 302
    found.refresh_from_db()
    assert found.state == ReliefState.APPROVED and found.signed_by == people["oscar"]
    line = LedgerLine.objects.get(member=wang, year=year, month=6)
    assert line.due == Decimal("5.00")


def test_rejecting_relief_needs_a_note(en, people, relief):
    oscar = en(people["oscar"])
    url = reverse("dues:relief_sign", args=[relief.pk])
    response = oscar.post(url, {"decision": "reject", "note": ""})
    assert response.status_code == 400
    relief.refresh_from_db()
    assert relief.state == ReliefState.PENDING
    assert oscar.post(url, {"decision": "reject", "note": "材料不全"}).status_code == 302
    relief.refresh_from_db()
    assert (relief.state, relief.sign_note) == (ReliefState.REJECTED, "材料不全")


def test_relief_form_names_the_wrong_field(en, people, roster):
    response = en(people["alice"]).post(
        reverse("dues:relief_new", args=[roster["zhang"].pk]),
        {
            "year": this_year(),
            "from_month": 6,
            "to_month": 3,
            "kind": "exempt",
            "reason": "困难",
            "branch_decided_on": today().isoformat(),
        },
    )
    assert response.status_code == 400
    assert "The last month is before the first." in html(response)
    assert not Relief.objects.exists()


# Arrears --------------------------------------------------------------------------------------


@pytest.fixture
def behind(people, tree, roster):
    """张三 (15.00 a month) has paid everything up to six months before the last completed month:
    the six months up to it are unpaid. Ledgers of last year and this year for branch A."""
    alice = people["alice"]
    zhang = roster["zhang"]
    year = this_year()
    for y in (year - 1, year):
        services.declare_base(actor=alice, member=zhang, year=y, category="in_service", base="3000")
        ledger.generate(y, tree["branch_a"])
    through = selectors.last_completed_month(today())
    end = rules.month_index(*through)
    first_unpaid = end - rules.ARREARS_MONTHS + 1
    paid = [rules.from_index(i) for i in range(rules.month_index(year - 1, 1), first_unpaid)]
    services.record_payment(
        actor=alice, member=zhang, months=paid, paid_on=today(), method="cash", confirm_late=True
    )
    return {"first": rules.from_index(first_unpaid), "through": through}


def test_arrears_list_shows_six_unpaid_months(en, people, tree, roster, behind):
    zhang = roster["zhang"]
    page = html(en(people["alice"]).get(reverse("dues:arrears", args=[tree["branch_a"].pk])))
    assert f'data-testid="arrears-{zhang.pk}"' in page
    row = page[page.index(f'data-testid="arrears-{zhang.pk}"') :]
    assert re.search(r'data-testid="months">6<', row)
    assert re.search(r'data-testid="owed">90.00<', row)
    first, through = behind["first"], behind["through"]
    assert f"{first[0]}-{first[1]:02d} … {through[0]}-{through[1]:02d}" in row
    assert f'data-testid="decide-{zhang.pk}"' in row
    assert 'data-testid="nothing-automatic"' in page
    # The committee above sees the list too, the sibling does not see it at all.
    page = html(en(people["oscar"]).get(reverse("dues:arrears", args=[tree["town"].pk])))
    assert f'data-testid="arrears-{zhang.pk}"' in page


def test_a_member_five_months_behind_is_not_listed(en, people, tree, roster, behind):
    zhang = roster["zhang"]
    first = behind["first"]
    services.record_payment(
        actor=people["alice"],
        member=zhang,
        months=[first],
        paid_on=today(),
        method="cash",
        confirm_late=True,
    )
    page = html(en(people["alice"]).get(reverse("dues:arrears", args=[tree["branch_a"].pk])))
    assert f'data-testid="arrears-{zhang.pk}"' not in page


def test_recording_a_decision(en, people, tree, roster, behind):
    zhang = roster["zhang"]
    c = en(people["alice"])
    url = reverse("dues:arrears_decide", args=[zhang.pk])
    assert 'data-testid="decision-form"' in html(c.get(url))
    response = c.post(
        url,
        {"outcome": "warned", "meeting_on": today().isoformat(), "reference": "党员大会记录"},
    )
    assert response.status_code == 302
    decision = ArrearsDecision.objects.get(member=zhang)
    assert (decision.outcome, decision.through_year, decision.through_month) == (
        "warned",
        *behind["through"],
    )
    assert AuditEvent.objects.filter(action="dues.arrears.decide").count() == 1
    page = html(c.get(reverse("dues:arrears", args=[tree["branch_a"].pk])))
    # Decided for this run: off the list until the next run, and in the history below.
    assert f'data-testid="arrears-{zhang.pk}"' not in page
    assert f'data-testid="decision-{decision.pk}"' in page
    zhang.refresh_from_db()
    assert zhang.status == "active"


@pytest.fixture
def long_behind(people, tree, roster):
    """张三 has not paid the twelve months up to the last completed one."""
    alice, zhang = people["alice"], roster["zhang"]
    through = selectors.last_completed_month(today())
    end = rules.month_index(*through)
    for y in range(through[0] - 1, this_year() + 1):
        services.declare_base(actor=alice, member=zhang, year=y, category="in_service", base="3000")
        ledger.generate(y, tree["branch_a"])
    paid = [rules.from_index(i) for i in range(rules.month_index(through[0] - 1, 1), end - 11)]
    if paid:
        services.record_payment(
            actor=alice,
            member=zhang,
            months=paid,
            paid_on=today(),
            method="cash",
            confirm_late=True,
        )
    return {"end": end}


def _decided(member, org, first: int, through: int) -> ArrearsDecision:
    return ArrearsDecision.objects.create(
        member=member,
        organization=org,
        first_year=rules.from_index(first)[0],
        first_month=rules.from_index(first)[1],
        through_year=rules.from_index(through)[0],
        through_month=rules.from_index(through)[1],
        outcome="warned",
        meeting_on=today(),
    )


def test_a_decision_holds_until_six_more_months_go_unpaid(people, tree, roster, long_behind):
    """The meeting talked to 张三 about the months up to six months ago; he has paid nothing
    since: six more unpaid months put him before the meeting again."""
    zhang, end = roster["zhang"], long_behind["end"]

    def flagged() -> list[int]:
        return [r["member"].pk for r in selectors.arrears(people["alice"], tree["branch_a"])]

    assert flagged() == [zhang.pk]
    recent = _decided(zhang, tree["branch_a"], end - 11, end - 1)
    assert flagged() == []  # five months since: still settled
    recent.delete()
    _decided(zhang, tree["branch_a"], end - 11, end - 6)
    assert flagged() == [zhang.pk]  # six months since: on the list again


def test_left_asks_for_a_confirmation_and_ends_the_membership(en, people, roster, behind):
    zhang = roster["zhang"]
    c = en(people["alice"])
    url = reverse("dues:arrears_decide", args=[zhang.pk])
    data = {"outcome": "left", "meeting_on": today().isoformat(), "reference": "党员大会决议"}
    response = c.post(url, data)
    assert response.status_code == 200
    assert 'data-testid="confirm-left"' in html(response)
    assert not ArrearsDecision.objects.exists()
    zhang.refresh_from_db()
    assert zhang.status == "active"
    response = c.post(url, {**data, "confirm": "1"})
    assert response.status_code == 302
    assert ArrearsDecision.objects.get(member=zhang).outcome == "left"
    zhang.refresh_from_db()
    assert zhang.status == "left"
    assert zhang.events.filter(kind="left", occurred_on=today()).exists()


def test_left_needs_the_meeting_record(en, people, roster, behind):
    zhang = roster["zhang"]
    response = en(people["alice"]).post(
        reverse("dues:arrears_decide", args=[zhang.pk]),
        {"outcome": "left", "meeting_on": today().isoformat(), "confirm": "1"},
    )
    assert response.status_code == 400
    assert "Enter the record of the branch meeting." in html(response)
    assert not ArrearsDecision.objects.exists()
    zhang.refresh_from_db()
    assert zhang.status == "active"


# Reports --------------------------------------------------------------------------------------


def line_sums(org, year) -> dict:
    return LedgerLine.objects.filter(org_path__startswith=org.path, year=year).aggregate(
        due=Sum("due"), paid=Sum("paid")
    )


def test_report_numbers_are_the_sums_of_the_lines(client_for, people, tree, roster, dues):
    year = dues["year"]
    town = tree["town"]
    services.record_voluntary(
        actor=people["bob"],
        member=roster["zhao"],
        amount="1500",
        paid_on=today(),
        method="bank",
        reference="VOL-1",
    )
    response = client_for(people["oscar"]).get(reverse("dues:report", args=[town.pk, year]))
    report = response.context["report"]
    sums = line_sums(town, year)
    assert report["total"]["due"] == sums["due"]
    assert report["total"]["paid"] == sums["paid"] == Decimal("15.00")
    assert report["total"]["lines"] == LedgerLine.objects.filter(year=year).count()
    assert sum(c["total"]["due"] for c in report["children"]) == sums["due"]
    for branch in (tree["branch_a"], tree["branch_b"]):
        child = next(c for c in report["children"] if c["org"].pk == branch.pk)
        assert child["total"]["due"] == line_sums(branch, year)["due"]
    assert sum(m["due"] for m in report["months"]) == sums["due"]
    assert report["total"]["voluntary"] == Decimal("1500.00")
    assert report["total"]["large_one_off"] == Decimal("1500.00")
    page = html(response)
    assert f'data-testid="child-{tree["branch_a"].pk}"' in page
    assert 'id="report-data"' in page and "vendor/echarts.min.js" in page
    assert reverse("dues:report_xlsx", args=[town.pk, year]) in page


def test_report_lists_exempt_members(en, people, tree, relief, dues):
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    page = html(
        en(people["oscar"]).get(reverse("dues:report", args=[tree["town"].pk, dues["year"]]))
    )
    exempt = page[page.index('data-testid="exempt"') :]
    assert relief.member.name in exempt
    totals = selectors.collection_report(people["oscar"], tree["town"], dues["year"])["total"]
    assert totals["exempt_lines"] == 12


def test_xlsx_export_has_the_right_totals(client_for, people, tree, dues):
    from openpyxl import load_workbook

    year = dues["year"]
    town = tree["town"]
    response = client_for(people["oscar"]).get(reverse("dues:report_xlsx", args=[town.pk, year]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    body = rows[2:-1]
    total = rows[-1]
    sums = line_sums(town, year)
    assert Decimal(str(total[2])) == sums["due"]
    assert Decimal(str(total[3])) == sums["paid"]
    assert {r[1] for r in body} == {tree["branch_a"].code, tree["branch_b"].code}
    assert sum(Decimal(str(r[2])) for r in body) == sums["due"]
    months = list(book.worksheets[1].iter_rows(values_only=True))
    assert [r[0] for r in months[2:14]] == list(range(1, 13))


def test_the_rate_quoted_during_the_year_counts_the_months_owed_so_far(en, people, tree, dues):
    """In March the whole year's rate could reach 25% at most: the report leads with the rate
    of the months owed by now (labelled), and keeps the whole year's due beside it."""
    year, town = dues["year"], tree["town"]
    oscar = people["oscar"]
    march = selectors.collection_report(oscar, town, year, on=datetime.date(year, 3, 15))
    due = LedgerLine.objects.filter(year=year, month__lte=3).aggregate(s=Sum("due"))["s"]
    assert march["to_date"]["months"] == 3
    assert march["to_date"]["due"] == due and march["to_date"]["paid"] == Decimal("15.00")
    assert march["to_date"]["rate"] == selectors.rate(Decimal("15.00"), due)
    assert march["total"]["due"] > due  # the whole year is still there
    a = next(c for c in march["children"] if c["org"].pk == tree["branch_a"].pk)
    a_due = LedgerLine.objects.filter(
        year=year, month__lte=3, org_path__startswith=tree["branch_a"].path
    ).aggregate(s=Sum("due"))["s"]
    assert a["to_date"]["due"] == a_due
    assert (
        selectors.collection_report(oscar, town, year, on=datetime.date(year + 1, 1, 2))["to_date"][
            "months"
        ]
        == 12
    )
    assert selectors.collection_report(oscar, town, year, on=datetime.date(year - 1, 6, 1))[
        "to_date"
    ] == {"months": 0, "due": 0, "paid": 0, "rate": None}

    response = en(oscar).get(reverse("dues:report", args=[town.pk, year]))
    report = response.context["report"]
    assert report["to_date"]["months"] == today().month
    page = html(response)
    summary = page[page.index('data-testid="summary"') :]
    rate = report["to_date"]["rate"]
    assert f'data-testid="to-date-rate">{rate}%<' in summary
    if today().month < 12:
        assert f"collection rate to date (months 1–{today().month})" in summary
    # The by-organisation chart: the rate to date of each organisation below, with its table.
    chart = response.context["chart_data"]
    assert chart["orgs"] == [c["org"].name for c in report["children"]]
    assert chart["org_rates"] == [c["to_date"]["rate"] for c in report["children"]]
    assert 'data-testid="org-chart"' in page


def test_xlsx_has_the_rate_to_date_and_the_exempt_members(client_for, people, tree, relief, dues):
    from openpyxl import load_workbook

    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    year, town = dues["year"], tree["town"]
    response = client_for(people["oscar"]).get(reverse("dues:report_xlsx", args=[town.pk, year]))
    book = load_workbook(io.BytesIO(response.content))
    assert len(book.worksheets) == 4
    by_org = list(book.worksheets[0].iter_rows(values_only=True))
    to_date = selectors.collection_report(people["oscar"], town, year)["to_date"]
    assert Decimal(str(by_org[-1][12])) == to_date["due"]
    assert by_org[-1][14] == to_date["rate"]
    exempt = list(book.worksheets[2].iter_rows(values_only=True))
    assert [r[0] for r in exempt[2:]] == [relief.member.name]
    assert exempt[2][2:4] == (f"{year}-01", f"{year}-12")


def test_xlsx_lists_the_members_six_months_behind(client_for, people, tree, roster, behind):
    from openpyxl import load_workbook

    response = client_for(people["alice"]).get(
        reverse("dues:report_xlsx", args=[tree["branch_a"].pk, this_year()])
    )
    rows = list(
        load_workbook(io.BytesIO(response.content)).worksheets[3].iter_rows(values_only=True)
    )
    first, through = behind["first"], behind["through"]
    assert rows[2][:5] == (
        "张三",
        roster["zhang"].organization.name,
        f"{first[0]}-{first[1]:02d}",
        f"{through[0]}-{through[1]:02d}",
        6,
    )
    assert Decimal(str(rows[2][5])) == Decimal("90.00")
    assert len(rows) == 3


def test_xlsx_cells_are_not_formulas(client_for, people, tree, admin, dues):
    from openpyxl import load_workbook

    from dangjian.core import services as core_services

    core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="=HYPERLINK(1)", kind="branch"
    )
    response = client_for(people["oscar"]).get(
        reverse("dues:report_xlsx", args=[tree["town"].pk, dues["year"]])
    )
    names = [
        r[0]
        for r in load_workbook(io.BytesIO(response.content))
        .worksheets[0]
        .iter_rows(values_only=True)
    ]
    assert "'=HYPERLINK(1)" in names


def test_report_drills_down_to_a_child_report(en, people, tree, dues):
    # oscar's scope starts at the township: the county is outside it.
    county = reverse("dues:report", args=[tree["county"].pk, dues["year"]])
    assert en(people["oscar"]).get(county).status_code == 404
    page = html(
        en(people["oscar"]).get(reverse("dues:report", args=[tree["town"].pk, dues["year"]]))
    )
    row = page[page.index(f'data-testid="child-{tree["branch_a"].pk}"') :]
    row = row[: row.index("</tr>")]
    try:  # a branch drills down to its collection grid, once that page exists
        grid = reverse("dues:grid", args=[tree["branch_a"].pk, dues["year"]])
    except NoReverseMatch:
        grid = reverse("dues:report", args=[tree["branch_a"].pk, dues["year"]])
    assert f'href="{grid}"' in row


def test_the_report_keeps_its_queries_whatever_its_size(
    client_for, people, tree, roster, admin, make_member, dues
):
    from dangjian.core import services as core_services

    year = dues["year"]
    town = tree["town"]
    url = reverse("dues:report", args=[town.pk, year])
    c = client_for(people["oscar"])
    c.get(url)
    with CaptureQueriesContext(connection) as small:
        assert c.get(url).status_code == 200
    for i in range(3):
        branch = core_services.create_organization(
            actor=admin, parent=town, code=f"B1{i}", name=f"新支部{i}", kind="branch"
        )
        member = make_member(branch, f"新党员{i}", birth=f"1982-03-0{i + 1}")
        services.declare_base(
            actor=people["oscar"], member=member, year=year, category="retired", base="3000"
        )
    ledger.generate(year, town)
    with CaptureQueriesContext(connection) as large:
        response = c.get(url)
    assert len(response.context["report"]["children"]) == 5
    assert len(large) == len(small)


def test_remittance_adds_up_the_month(en, people, tree, roster, dues):
    year = dues["year"]
    month = today().month
    services.record_voluntary(
        actor=people["bob"],
        member=roster["zhao"],
        amount="1200",
        paid_on=today(),
        method="bank",
        reference="VOL-9",
    )
    services.record_voluntary(
        actor=people["alice"], member=roster["zhang"], amount="50", paid_on=today(), method="cash"
    )
    response = en(people["oscar"]).get(
        reverse("dues:remittance", args=[tree["town"].pk, year, month])
    )
    assert response.status_code == 200
    total = response.context["total"]
    assert total["large"] == Decimal("1200.00")
    assert total["voluntary_small"] == Decimal("50.00")
    assert total["dues"] == Decimal("15.00")  # 张三's January, paid today
    assert total["received"] == Decimal("1265.00")
    assert total["payments"] == 3
    # Beside them, the dues owed for the month itself and how much of them is paid by now.
    paid = LedgerLine.objects.filter(year=year, month=month).aggregate(s=Sum("paid"))["s"]
    assert total["paid"] == paid
    assert (
        en(people["oscar"])
        .get(reverse("dues:remittance", args=[tree["town"].pk, year, 13]))
        .status_code
        == 404
    )


def test_remittance_is_what_was_received_in_the_month(en, people, tree, roster, dues):
    """By the day paid, not the month owed: dues paid this month for earlier months count this
    month; a payment made last month for this month counted last month; a reversed one never."""
    alice = people["alice"]
    year, month = dues["year"], today().month
    last_year, last_month = rules.from_index(rules.month_index(today().year, month) - 1)
    last_month_day = datetime.date(last_year, last_month, 1)
    earlier = services.record_payment(
        actor=alice,
        member=roster["wang"],
        months=[(year, month)],
        paid_on=last_month_day,
        method="cash",
        approval="支部委员会同意预交",
    )
    wrong = services.record_payment(
        actor=alice,
        member=roster["wang"],
        months=[(year, 1)] if month > 1 else [(year, 2)],
        paid_on=today(),
        method="cash",
        approval="支部委员会同意预交",
        confirm_late=True,
    )
    services.reverse_payment(actor=alice, payment=wrong, reason="录错了")

    def remitted(y, m):
        response = en(people["oscar"]).get(reverse("dues:remittance", args=[tree["town"].pk, y, m]))
        assert response.status_code == 200
        return response.context["total"], {r["org"].pk: r for r in response.context["rows"]}

    total, rows = remitted(today().year, month)
    assert total["dues"] == Decimal("15.00")  # 张三's January only; 王五's month came earlier
    assert total["payments"] == 1
    assert rows[tree["branch_a"].pk]["dues"] == Decimal("15.00")
    assert rows[tree["branch_b"].pk]["dues"] == Decimal("0.00")
    # This month's own dues: 王五's is paid (last month), and shows in "paid by now".
    assert total["paid"] >= earlier.amount
    total, _rows = remitted(last_year, last_month)
    assert total["dues"] == earlier.amount == Decimal("20.00")


def test_short_addresses_take_the_year_from_the_query(client_for, people, tree, dues):
    a = tree["branch_a"]
    c = client_for(people["alice"])
    year = dues["year"]
    response = c.get(reverse("dues:bases", args=[a.pk]) + f"?year={year - 1}")
    assert response["Location"] == reverse("dues:bases", args=[a.pk, year - 1])
    response = c.get(reverse("dues:report", args=[a.pk]) + "?year=nonsense")
    assert response["Location"] == reverse("dues:report", args=[a.pk, year])
    response = c.get(reverse("dues:remittance", args=[a.pk]) + f"?year={year}&month=3")
    assert response["Location"] == reverse("dues:remittance", args=[a.pk, year, 3])
    bob = client_for(people["bob"])
    for name in ("bases", "report", "remittance"):
        assert bob.get(reverse(f"dues:{name}", args=[a.pk])).status_code == 404


def test_a_party_group_leads_to_its_branch_and_a_broken_grid_saves_nothing(
    client_for, people, tree, roster
):
    c = client_for(people["alice"])
    year = this_year()
    response = c.get(reverse("dues:bases", args=[tree["group_a"].pk, year]))
    assert response["Location"] == reverse("dues:bases", args=[tree["branch_a"].pk, year])
    url = reverse("dues:bases", args=[tree["branch_a"].pk, year])
    response = c.post(url, {"rows-0-member": roster["zhang"].pk, "rows-0-category": "retired"})
    assert response.status_code == 400 and 'data-testid="grid-error"' in html(response)
    empty = [{"member": roster["zhang"].pk, "category": ""}]
    assert c.post(url, grid_post(year, empty)).status_code == 400
    assert not DuesBase.objects.exists()
