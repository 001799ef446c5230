"""Bank-statement reconciliation: real CSV (UTF-8 and GB18030) and xlsx files, matched /
ambiguous / unmatched / already recorded lines, choosing, confirming all or nothing, and the
pages tried by the three people."""

import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from dangjian.core.errors import Conflict, ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.dues import reconcile, services
from dangjian.dues.models import LedgerLine, Payment, Statement, StatementLine
from tests.conftest import DUES_TODAY

pytestmark = pytest.mark.django_db

YEAR = DUES_TODAY.year - 1  # a whole past year: every month may be paid
HEADER = ["交易日期", "交易流水号", "对方户名", "贷方金额", "借方金额", "摘要"]


def day(month, d=10):
    return f"{YEAR}-{month:02d}-{d:02d}"


def csv_bytes(rows, header=HEADER, encoding="utf-8") -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, *, title=True, total=True) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    if title:
        sheet.append(["中国某某银行 账户交易明细"])
        sheet.append(["账号：6222000011112222", None, "户名：东街社区党支部"])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    if total:
        sheet.append(["合计", None, None, 999.0])
    handle = io.BytesIO()
    book.save(handle)
    return handle.getvalue()


@pytest.fixture
def dues(roster, people, tree):
    """张三 pays 15.00 a month, 王五 20.00, both with the whole year owed."""
    alice = people["alice"]
    services.declare_base(
        actor=alice, member=roster["zhang"], year=YEAR, category="in_service", base="3000"
    )
    services.declare_base(
        actor=alice, member=roster["wang"], year=YEAR, category="retired", base="4000"
    )
    services.generate_now(actor=alice, org=tree["branch_a"], year=YEAR)
    return roster


def rows_of(data, name="statement.csv"):
    return reconcile.read_statement(data, name)


def by_row(statement):
    return {line.row: line for line in StatementLine.objects.filter(statement=statement)}


def months(line_ids):
    return sorted(
        f"{y}-{m:02d}"
        for y, m in LedgerLine.objects.filter(pk__in=line_ids).values_list("year", "month")
    )


STATEMENT = [
    [day(3), "R001", "张三", "45.00", "", "党费"],  # 2: Jan-Mar of 张三
    [day(3, 11), "R002", "王五", "20.00", "", "党费"],  # 3: Jan of 王五
    [day(3, 12), "R003", "某某某", "10.00", "", "货款"],  # 4: nobody
    [day(3, 13), "R004", "电费", "", "300.00", "代扣电费"],  # 5: money paid out: left out
    [day(3, 14), "R005", "张三", "abc", "", ""],  # 6: no amount
    [day(3, 15), "R006", "李梅", "20.00", "", "代王五交党费"],  # 7: memo names 王五: Feb
    [day(3, 16), "R007", "王五", "7.00", "", ""],  # 8: not what 王五 owes
]


def test_csv_lines_are_matched_by_name_memo_and_amount(dues, people, tree):
    rows = rows_of(csv_bytes(STATEMENT))
    assert [r.row for r in rows] == [2, 3, 4, 6, 7, 8]  # the debit line is not read
    statement = reconcile.match(people["alice"], tree["branch_a"], rows, file_name="s.csv")
    lines = by_row(statement)
    assert lines[2].state == "matched"
    assert lines[2].candidates[0]["member"] == dues["zhang"].pk
    assert months(lines[2].candidates[0]["lines"]) == [f"{YEAR}-01", f"{YEAR}-02", f"{YEAR}-03"]
    assert lines[3].state == "matched"
    assert months(lines[3].candidates[0]["lines"]) == [f"{YEAR}-01"]
    # The memo names 王五; January is taken by line 3, so this pays February.
    assert lines[7].state == "matched"
    assert lines[7].candidates[0]["member"] == dues["wang"].pk
    assert months(lines[7].candidates[0]["lines"]) == [f"{YEAR}-02"]
    assert lines[4].state == "unmatched" and "某某某" in lines[4].reason
    assert lines[6].state == "unmatched" and "abc" in lines[6].reason
    assert lines[8].state == "unmatched" and "20.00" in lines[8].reason
    assert Payment.objects.count() == 0  # nothing recorded before the confirmation


def test_gb18030_csv_reads_the_same(dues, people, tree):
    rows = rows_of(csv_bytes(STATEMENT, encoding="gb18030"))
    assert [r.name for r in rows][:2] == ["张三", "王五"]
    assert rows[0].amount == Decimal("45.00")
    assert rows[0].paid_on == datetime.date(YEAR, 3, 10)
    statement = reconcile.match(people["alice"], tree["branch_a"], rows)
    assert by_row(statement)[2].state == "matched"


def test_xlsx_with_title_rows_numbers_dates_and_a_total(dues, people, tree):
    data = xlsx_bytes(
        [
            [datetime.datetime(YEAR, 2, 1, 9, 30), "X1", "张三", 30.0, None, "党费"],
            [datetime.date(YEAR, 2, 2), 20240202001.0, "王五", 20, None, ""],
        ]
    )
    rows = rows_of(data, "s.xlsx")
    assert [(r.row, r.amount, r.paid_on) for r in rows] == [
        (4, Decimal("30.00"), datetime.date(YEAR, 2, 1)),
        (5, Decimal("20.00"), datetime.date(YEAR, 2, 2)),
    ]  # the 合计 line ends the table
    assert rows[1].reference == "20240202001"
    statement = reconcile.match(people["alice"], tree["branch_a"], rows)
    assert {line.state for line in by_row(statement).values()} == {"matched"}


def test_ambiguous_two_members_of_the_same_name_then_choose(dues, people, tree, make_member):
    alice = people["alice"]
    other = make_member(tree["branch_a"], "张三", birth="1970-02-02")
    services.declare_base(actor=alice, member=other, year=YEAR, category="in_service", base="3000")
    services.generate_now(actor=alice, org=tree["branch_a"], year=YEAR)
    rows = rows_of(csv_bytes([[day(2), "A1", "张三", "15.00", "", ""]]))
    statement = reconcile.match(alice, tree["branch_a"], rows)
    line = by_row(statement)[2]
    assert line.state == "ambiguous"
    assert sorted(c["member"] for c in line.candidates) == sorted([dues["zhang"].pk, other.pk])
    assert line.chosen is None
    with pytest.raises(ValidationFailed):
        reconcile.choose(alice, statement, line, dues["wang"].pk)  # not a candidate
    reconcile.choose(alice, statement, line, other.pk)
    reconcile.confirm(alice, statement)
    payment = Payment.objects.get()
    assert payment.member == other and payment.method == "bank" and payment.reference == "A1"
    assert payment.amount == Decimal("15.00")
    assert not Payment.objects.filter(member=dues["zhang"]).exists()


def test_same_name_but_amount_fits_one_of_them_is_matched(dues, people, tree, make_member):
    alice = people["alice"]
    other = make_member(tree["branch_a"], "张三", birth="1970-02-02")
    services.declare_base(actor=alice, member=other, year=YEAR, category="in_service", base="2000")
    services.generate_now(actor=alice, org=tree["branch_a"], year=YEAR)
    rows = rows_of(csv_bytes([[day(3), "A1", "张三", "30.00", "", ""]]))
    line = by_row(reconcile.match(alice, tree["branch_a"], rows))[2]
    # Paid in March, 30.00 is two months of the first 张三 (15.00) and three of the second
    # (10.00): both fit.
    assert line.state == "ambiguous"
    fits = {c["member"]: months(c["lines"]) for c in line.candidates}
    assert fits[dues["zhang"].pk] == [f"{YEAR}-01", f"{YEAR}-02"]
    assert fits[other.pk] == [f"{YEAR}-01", f"{YEAR}-02", f"{YEAR}-03"]
    rows = rows_of(csv_bytes([[day(3), "A2", "张三", "45.00", "", ""]]))
    line = by_row(reconcile.match(alice, tree["branch_a"], rows))[2]
    # 45.00: three months of the first; four months of the second would be 40.00.
    assert line.state == "matched" and line.candidates[0]["member"] == dues["zhang"].pk


def test_choose_only_on_ambiguous_lines(dues, people, tree):
    alice = people["alice"]
    rows = rows_of(csv_bytes(STATEMENT[:1]))
    statement = reconcile.match(alice, tree["branch_a"], rows)
    with pytest.raises(ValidationFailed) as caught:
        reconcile.choose(alice, statement, by_row(statement)[2], dues["zhang"].pk)
    assert caught.value.code == "not_ambiguous"


def test_confirm_records_bank_payments_and_a_second_import_records_nothing(dues, people, tree):
    alice = people["alice"]
    data = csv_bytes(STATEMENT)
    statement = reconcile.match(alice, tree["branch_a"], rows_of(data), file_name="s.csv")
    reconcile.confirm(alice, statement)
    statement.refresh_from_db()
    assert statement.state == "confirmed"
    payments = Payment.objects.order_by("reference")
    assert [(p.reference, p.member_id, p.amount) for p in payments] == [
        ("R001", dues["zhang"].pk, Decimal("45.00")),
        ("R002", dues["wang"].pk, Decimal("20.00")),
        ("R006", dues["wang"].pk, Decimal("20.00")),
    ]
    assert {p.method for p in payments} == {"bank"}
    assert {p.request_key for p in payments} == {f"stmt{statement.pk}:{r}" for r in (2, 3, 7)}
    assert LedgerLine.objects.get(member=dues["zhang"], year=YEAR, month=3).status == "paid"
    assert by_row(statement)[2].payment.reference == "R001"
    confirmations = AuditEvent.objects.filter(action="dues.statement.confirm")
    assert confirmations.count() == 1

    # Confirming again does nothing.
    reconcile.confirm(alice, statement)
    assert Payment.objects.count() == 3
    assert confirmations.count() == 1

    # The same file again: the lines with references are recorded already.
    again = reconcile.match(alice, tree["branch_a"], rows_of(data))
    lines = by_row(again)
    assert {lines[r].state for r in (2, 3, 7)} == {"recorded"}
    assert lines[2].payment.reference == "R001"
    with pytest.raises(ValidationFailed) as caught:
        reconcile.confirm(alice, again)
    assert caught.value.code == "nothing_to_confirm"
    assert Payment.objects.count() == 3


def test_a_statement_without_references_is_not_recorded_twice(dues, people, tree):
    alice = people["alice"]
    data = csv_bytes([[day(3), "", "张三", "15.00", "", ""], [day(3), "", "张三", "15.00", "", ""]])
    first = reconcile.match(alice, tree["branch_a"], rows_of(data))
    lines = by_row(first)
    # Two payments on one day: January, then February.
    assert months(lines[2].candidates[0]["lines"]) == [f"{YEAR}-01"]
    assert months(lines[3].candidates[0]["lines"]) == [f"{YEAR}-02"]
    reconcile.confirm(alice, first)
    assert sorted(Payment.objects.values_list("reference", flat=True)) == [
        f"stmt{first.pk}-2",
        f"stmt{first.pk}-3",
    ]
    again = reconcile.match(alice, tree["branch_a"], rows_of(data))
    assert {line.state for line in by_row(again).values()} == {"recorded"}
    assert Payment.objects.count() == 2


def test_confirm_is_all_or_nothing(dues, people, tree):
    alice = people["alice"]
    statement = reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT)))
    # Meanwhile 王五's January is paid in cash: line 3 can no longer be recorded.
    services.record_payment(
        actor=alice,
        member=dues["wang"],
        months=[(YEAR, 1)],
        paid_on=datetime.date(YEAR, 3, 1),
        method="cash",
    )
    with pytest.raises(Conflict) as caught:
        reconcile.confirm(alice, statement)
    assert "3" in str(caught.value.message) and "王五" in str(caught.value.message)
    assert not Payment.objects.filter(method="bank").exists()
    assert LedgerLine.objects.get(member=dues["zhang"], year=YEAR, month=1).status == "unpaid"
    statement.refresh_from_db()
    assert statement.state == "preview"
    assert not StatementLine.objects.filter(statement=statement, payment__isnull=False).exists()


def test_months_in_advance_are_not_matched(dues, people, tree):
    rows = rows_of(csv_bytes([[day(2), "F1", "张三", "45.00", "", ""]]))  # Jan-Mar, paid in Feb
    with translation.override("en"):  # the reason is stored in the language of the request
        line = by_row(reconcile.match(people["alice"], tree["branch_a"], rows))[2]
    assert line.state == "unmatched" and "advance" in line.reason


def test_back_payment_is_matched_with_a_warning(dues, people, tree):
    # 15.00 paid in December for January: more than six months back.
    rows = rows_of(csv_bytes([[day(12), "L1", "张三", "15.00", "", ""]]))
    statement = reconcile.match(people["alice"], tree["branch_a"], rows)
    line = by_row(statement)[2]
    assert line.state == "matched" and line.reason
    reconcile.confirm(people["alice"], statement)
    assert Payment.objects.get().reference == "L1"


def test_member_outside_the_subtree_is_not_matched(dues, people, tree):
    rows = rows_of(csv_bytes([[day(3), "B1", "赵六", "10.00", "", ""]]))  # 赵六 is in branch B
    line = by_row(reconcile.match(people["alice"], tree["branch_a"], rows))[2]
    assert line.state == "unmatched"


def test_another_organisations_bank_serial_is_not_this_payment(dues, people, tree, client_for):
    """Branch A recorded bank serial R001; branch B's bank uses the same serial for 赵六's
    payment: B's line is matched (not "recorded"), and B never sees A's receipt number."""
    alice, bob = people["alice"], people["bob"]
    a_payment = services.record_payment(
        actor=alice,
        member=dues["zhang"],
        months=[(YEAR, 1)],
        paid_on=datetime.date(YEAR, 2, 1),
        method="bank",
        reference="R001",
    )
    services.declare_base(
        actor=bob, member=dues["zhao"], year=YEAR, category="in_service", base="6000"
    )
    services.generate_now(actor=bob, org=tree["branch_b"], year=YEAR)
    rows = rows_of(csv_bytes([[day(3), "R001", "赵六", "90.00", "", "党费"]]))
    statement = reconcile.match(bob, tree["branch_b"], rows)
    line = by_row(statement)[2]
    assert line.state == "matched", line.reason
    assert line.payment is None
    assert a_payment.receipt_no not in line.reason
    page = client_for(bob).get(reverse("dues:statement", args=[statement.pk]))
    assert page.status_code == 200 and a_payment.receipt_no not in page.text
    # The town above sees both: there the serial is on file already.
    town = reconcile.match(people["oscar"], tree["town"], rows)
    assert by_row(town)[2].state == "recorded"
    # Confirmed, B's payment is booked with its own serial.
    reconcile.confirm(bob, statement)
    b_payment = Payment.objects.get(member=dues["zhao"])
    assert (b_payment.reference, b_payment.organization_id) == ("R001", tree["branch_b"].pk)
    assert LedgerLine.objects.get(member=dues["zhao"], year=YEAR, month=1).status == "paid"


def test_a_payment_collected_outside_the_subtree_is_not_recorded_here(dues, people, tree):
    """A statement without references recognises an import seen before by member, day and
    amount, but only among the payments its organisation collected."""
    elsewhere = Payment.objects.create(
        member=dues["zhang"],
        organization=tree["branch_b"],
        org_path=tree["branch_b"].path,
        amount=Decimal("15.00"),
        paid_on=datetime.date(YEAR, 3, 10),
        method="bank",
        receipt_no="DF-ELSEWHERE-1",
    )
    rows = rows_of(csv_bytes([[day(3), "", "张三", "15.00", "", ""]]))
    line = by_row(reconcile.match(people["alice"], tree["branch_a"], rows))[2]
    assert line.state == "matched", line.reason
    assert elsewhere.receipt_no not in line.reason


def test_a_reversed_payment_does_not_count_as_recorded(dues, people, tree):
    alice = people["alice"]
    data = csv_bytes(STATEMENT[:1])
    first = reconcile.match(alice, tree["branch_a"], rows_of(data))
    reconcile.confirm(alice, first)
    payment = Payment.objects.get()
    services.reverse_payment(actor=alice, payment=payment, reason="录错了")
    again = reconcile.match(alice, tree["branch_a"], rows_of(data))
    line = by_row(again)[2]
    assert line.state == "matched", line.reason
    assert line.payment is None and payment.receipt_no not in line.reason
    # Recorded again, rightly this time: the reversed payment gave its reference up.
    reconcile.confirm(alice, again)
    booked = Payment.objects.get(reversed_at__isnull=True)
    assert booked.reference == "R001" and booked.pk != payment.pk


@pytest.mark.parametrize("cell", ["1e30", "-1e30", "1e999999999999999999", "1E+8", 1e30])
def test_huge_amounts_are_a_message_not_a_crash(cell):
    with pytest.raises(reconcile.BadCell):
        reconcile.parse_money(cell)
    rows = rows_of(csv_bytes([[day(3), "H1", "张三", str(cell), "", ""]]))
    assert rows[0].problem and rows[0].amount is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\x00\x01\x02binary", "wrong_format"),
        (b"PK\x03\x04 this is no zip", "unreadable"),
        ("日期,对方户名,摘要\n2025-01-01,张三,党费\n".encode(), "missing_column"),
        ("金额,对方户名\n15.00,张三\n".encode(), "missing_column"),
        ("交易日期,金额\n".encode(), "no_rows"),
        ("随便,什么\n1,2\n".encode(), "no_known_columns"),
    ],
)
def test_unreadable_statements_are_refused_with_a_message(data, code):
    with pytest.raises(ValidationFailed) as caught:
        reconcile.read_statement(data, "s.csv")
    assert caught.value.field == "file"
    assert caught.value.code == code
    assert str(caught.value.message)


def test_bad_cells_become_unmatched_lines(dues, people, tree):
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    rows = rows_of(
        csv_bytes(
            [
                ["not a day", "C1", "张三", "15.00", "", ""],
                [future, "C2", "张三", "15.00", "", ""],
                [day(3), "C3", "张三", "15.001", "", ""],
                [day(3), "C4", "张三", "-15.00", "", ""],
                [day(3), "C5", "张三", "¥1,015.00", "", ""],
            ]
        )
    )
    assert [bool(r.problem) for r in rows] == [True, True, True, True, False]
    assert rows[4].amount == Decimal("1015.00")
    statement = reconcile.match(people["alice"], tree["branch_a"], rows)
    lines = by_row(statement)
    assert [lines[r].state for r in (2, 3, 4, 5)] == ["unmatched"] * 4
    assert all(lines[r].reason for r in (2, 3, 4, 5))


def test_match_needs_dues_manage_at_the_organisation(dues, people, tree):
    from dangjian.core.errors import NotFound

    rows = rows_of(csv_bytes(STATEMENT[:1]))
    with pytest.raises(NotFound):
        reconcile.match(people["bob"], tree["branch_a"], rows)
    assert not Statement.objects.exists()


# Pages -----------------------------------------------------------------------------------------


def upload(client, org, data, name="bank.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("dues:statements", args=[org.pk]),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
    )


def test_pages_upload_choose_confirm_and_summary(dues, people, tree, client_for, make_member):
    alice = people["alice"]
    other = make_member(tree["branch_a"], "张三", birth="1970-02-02")
    services.declare_base(actor=alice, member=other, year=YEAR, category="in_service", base="3000")
    services.generate_now(actor=alice, org=tree["branch_a"], year=YEAR)
    c = client_for(alice)
    c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the texts below are the English ones
    page = c.get(reverse("dues:statements", args=[tree["branch_a"].pk]))
    assert page.status_code == 200 and 'data-testid="statement-upload"' in page.text
    rows = STATEMENT[1:4] + [[day(3, 20), "P9", "张三", "15.00", "", ""]]
    answer = upload(c, tree["branch_a"], csv_bytes(rows, encoding="gb18030"))
    assert answer.status_code == 302
    statement = Statement.objects.get()
    assert answer["Location"] == reverse("dues:statement", args=[statement.pk])
    page = c.get(answer["Location"])
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="matched-2"' in text  # 王五
    assert 'data-testid="ambiguous-5"' in text  # two 张三 of 15.00
    assert 'data-testid="unmatched-3"' in text
    assert "Confirm 1 match" in text
    line = StatementLine.objects.get(statement=statement, row=5)
    choose = reverse("dues:statement_choose", args=[statement.pk, line.pk])
    answer = c.post(choose, {"member": other.pk}, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert f'id="line-{line.pk}"' in answer.text
    assert 'hx-swap-oob="true"' in answer.text and "Confirm 2 matches" in answer.text
    line.refresh_from_db()
    assert line.chosen["member"] == other.pk
    answer = c.post(reverse("dues:statement_confirm", args=[statement.pk]))
    assert answer.status_code == 302
    page = c.get(reverse("dues:statement", args=[statement.pk]))
    assert 'data-testid="summary"' in page.text
    receipts = [p.pk for p in Payment.objects.all()]
    assert len(receipts) == 2
    for pk in receipts:
        assert reverse("dues:receipt", args=[pk]) in page.text
    # Confirming again records nothing.
    c.post(reverse("dues:statement_confirm", args=[statement.pk]))
    assert Payment.objects.count() == 2


def test_pages_bad_file_is_a_message_not_an_error_page(dues, people, tree, client_for):
    c = client_for(people["alice"])
    answer = upload(c, tree["branch_a"], b"\x00\x01binary", "x.xlsx")
    assert answer.status_code == 400
    assert 'data-code="wrong_format"' in answer.text
    assert not Statement.objects.exists()


def test_pages_confirm_failure_shows_the_line(dues, people, tree, client_for):
    alice = people["alice"]
    statement = reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT[:2])))
    services.record_payment(
        actor=alice,
        member=dues["wang"],
        months=[(YEAR, 1)],
        paid_on=datetime.date(YEAR, 3, 1),
        method="cash",
    )
    answer = client_for(alice).post(reverse("dues:statement_confirm", args=[statement.pk]))
    assert answer.status_code == 409
    assert 'data-testid="confirm-error"' in answer.text
    assert not Payment.objects.filter(method="bank").exists()


def test_three_people_scope(dues, people, tree, client_for):
    """alice (branch A) and oscar (the town above) see and work on branch A's statement; bob
    (branch B) gets 404 everywhere."""
    statement = reconcile.match(
        people["alice"],
        tree["branch_a"],
        rows_of(csv_bytes(STATEMENT[:2])),
        file_name="branch-a-march.csv",
    )
    line = StatementLine.objects.get(statement=statement, row=2)
    urls = [
        reverse("dues:statements", args=[tree["branch_a"].pk]),
        reverse("dues:statement", args=[statement.pk]),
    ]
    for who in ("alice", "oscar"):
        c = client_for(people[who])
        for url in urls:
            assert c.get(url).status_code == 200, (who, url)
    town = client_for(people["oscar"]).get(reverse("dues:statements", args=[tree["town"].pk]))
    assert statement.file_name in town.text  # the town's list shows its subtree's statements

    bob = client_for(people["bob"])
    for url in urls:
        assert bob.get(url).status_code == 404, url
    assert upload(bob, tree["branch_a"], csv_bytes(STATEMENT[:1])).status_code == 404
    choose = reverse("dues:statement_choose", args=[statement.pk, line.pk])
    assert bob.post(choose, {"member": dues["zhang"].pk}).status_code == 404
    confirm = reverse("dues:statement_confirm", args=[statement.pk])
    assert bob.post(confirm).status_code == 404
    assert not Payment.objects.exists()
    # bob's own list does not show branch A's statement.
    own = bob.get(reverse("dues:statements", args=[tree["branch_b"].pk]))
    assert own.status_code == 200 and statement.file_name not in own.text

    # The committee above confirms.
    assert client_for(people["oscar"]).post(confirm).status_code == 302
    assert Payment.objects.filter(method="bank").count() == 2


# Races on PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_record_once(dues, people, tree):
    from tests.races import race

    alice, oscar = people["alice"], people["oscar"]
    statement = reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT)))
    results = race(
        [statement],
        lambda: reconcile.confirm(alice, statement),
        lambda: reconcile.confirm(oscar, statement),
    )
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    assert Payment.objects.count() == 3
    assert AuditEvent.objects.filter(action="dues.statement.confirm").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_file_twice_confirmed_at_once_records_once(dues, people, tree):
    from tests.races import race

    alice, oscar = people["alice"], people["oscar"]
    data = csv_bytes(STATEMENT[:2])
    first = reconcile.match(alice, tree["branch_a"], rows_of(data))
    second = reconcile.match(oscar, tree["town"], rows_of(data))
    wang_january = LedgerLine.objects.get(member=dues["wang"], year=YEAR, month=1)
    race(
        [wang_january],
        lambda: reconcile.confirm(alice, first),
        lambda: reconcile.confirm(oscar, second),
    )
    assert sorted(Payment.objects.values_list("reference", flat=True)) == ["R001", "R002"]
    assert LedgerLine.objects.get(pk=wang_january.pk).paid == Decimal("20.00")


def test_list_and_statement_pages_read_a_fixed_number_of_queries(dues, people, tree, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = people["alice"]
    c = client_for(alice)
    list_url = reverse("dues:statements", args=[tree["branch_a"].pk])

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert c.get(url).status_code == 200
        return len(captured)

    small = reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT[:1])))
    few = (queries(list_url), queries(reverse("dues:statement", args=[small.pk])))
    big = reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT)))
    for _i in range(3):
        reconcile.match(alice, tree["branch_a"], rows_of(csv_bytes(STATEMENT)))
    many = (queries(list_url), queries(reverse("dues:statement", args=[big.pk])))
    assert many == few
