"""Bank-statement reconciliation (银行对账): read a statement, match its lines to members' ledger
lines, let a person settle the ambiguous ones, then record every match in one step.

    rows = read_statement(upload)                 # CSV or xlsx; ValidationFailed(field="file")
    statement = match(actor, org, rows, file_name=upload.name)
    choose(actor, statement, line, member_id)     # an ambiguous line: which member paid
    confirm(actor, statement)                     # every match recorded, or none

A line is RECORDED when a bank payment with its reference, not reversed, is on file already in
the organisation's subtree (importing the same statement twice records nothing twice; another
organisation's bank may use the same serial); MATCHED when exactly one member of the
organisation's subtree of that name (or named in the memo) owes, oldest month first, exactly
the amount;
AMBIGUOUS when several members fit; UNMATCHED otherwise, with the reason. Confirming records each
match through `services.record_payment` (method bank), in one transaction.

`read_columns` finds a header row by column synonyms in a spreadsheet or CSV; the import of dues
bases (bases_import.py) reads its files with it too. The file-level helpers (format, encodings,
broken files, notes under the table) are those of the member import.
"""

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit
from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Conflict, NotFound, ServiceError, ValidationFailed
from dangjian.core.models import Organization
from dangjian.core.text import has_control_characters
from dangjian.members import importing
from dangjian.members.models import Member

from . import rules, services
from .models import (
    LedgerLine,
    LineStatus,
    MatchState,
    Method,
    Payment,
    Statement,
    StatementLine,
    StatementState,
)

MAX_STATEMENT_ROWS = 20_000
OPEN = (LineStatus.UNPAID, LineStatus.PARTIAL)
NAME_LENGTHS = range(2, 9)  # names looked for in a memo: two to eight characters

# Column key -> header texts, best first (a statement with both 金额 and 贷方金额 uses the latter).
STATEMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("交易日期", "记账日期", "入账日期", "日期", "交易时间", "date", "transaction date"),
    "amount": (
        "贷方金额",
        "贷方发生额",
        "收入金额",
        "收入",
        "入账金额",
        "交易金额",
        "金额",
        "amount",
        "credit",
    ),
    "debit": ("借方金额", "借方发生额", "支出金额", "支出", "debit"),
    "name": (
        "对方户名",
        "对方账户名称",
        "对方名称",
        "付款人",
        "付款人名称",
        "付款方",
        "户名",
        "姓名",
        "name",
        "payer",
    ),
    "reference": (
        "交易流水号",
        "流水号",
        "凭证号",
        "交易参考号",
        "参考号",
        "reference",
        "ref",
    ),
    "memo": ("摘要", "附言", "交易附言", "用途", "备注", "memo", "remark", "note"),
}

_MONEY_NOISE = re.compile(r"[\s,，¥￥元]|rmb|cny", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x1f\x7f]")


# Reading ---------------------------------------------------------------------------------------


@dataclass
class Columns:
    """The data rows of a file, with the column each key was found in."""

    format: str
    headers: list[str]
    header_line: int
    index: dict[str, int]  # column key -> position
    rows: list[tuple[int, list]]  # (1-based line in the file, cells)
    notes: list[str] = field(default_factory=list)

    def cell(self, cells: list, key: str):
        at = self.index.get(key)
        return cells[at] if at is not None and at < len(cells) else None


def file_bytes(file) -> tuple[bytes, str]:
    """(content, name) of an upload, an open file or bytes."""
    if isinstance(file, bytes | bytearray):
        return bytes(file), ""
    name = getattr(file, "name", "") or ""
    size = getattr(file, "size", None)
    if size is not None and size > importing.MAX_BYTES:
        raise importing.BadFile(
            _("The file is larger than %(mb)s MB.") % {"mb": importing.MAX_BYTES // (1024 * 1024)},
            code="too_large",
        )
    if hasattr(file, "seek"):
        file.seek(0)
    return file.read(), str(name).rsplit("/", 1)[-1]


def _find_columns(cells: list, synonyms: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Column key -> position in a candidate header row (each key at its best synonym)."""
    texts = [importing.header_key(importing._cell_text(c)) for c in cells]
    found: dict[str, int] = {}
    used: set[int] = set()
    for key, words in synonyms.items():
        best = None
        for word in (importing.header_key(w) for w in words):
            for at, text in enumerate(texts):
                if text == word and at not in used:
                    best = at
                    break
            if best is not None:
                break
        if best is not None:
            found[key] = best
            used.add(best)
    return found


def read_columns(
    data: bytes,
    name: str,
    synonyms: dict[str, tuple[str, ...]],
    *,
    required: dict[str, str],
    max_rows: int,
) -> Columns:
    """Read the first non-empty sheet of a spreadsheet or CSV (UTF-8 or GB18030): the header is
    the row among the first ones that names most of the known columns; data rows follow it up
    to a blank-only end or a note (合计, 说明, …). `required` maps a key to the message shown
    when no column of the header names it. BadFile (field "file") for a file that cannot be
    read at all."""
    if not data:
        raise importing.BadFile(_("The file is empty."), code="empty_file")
    if len(data) > importing.MAX_BYTES:
        raise importing.BadFile(
            _("The file is larger than %(mb)s MB.") % {"mb": importing.MAX_BYTES // (1024 * 1024)},
            code="too_large",
        )
    fmt = importing.sniff_format(data, name)
    source = importing._csv_rows(data) if fmt == "csv" else importing._sheet_rows(data, fmt)
    head: list[tuple[int, list]] = []
    line = 0
    for cells in source:
        line += 1
        if not all(importing._is_blank(c) for c in cells):
            head.append((line, list(cells)))
        if len(head) >= importing.HEADER_SCAN:
            break
    if not head:
        raise importing.BadFile(_("The file is empty."), code="empty_file")
    best, best_index = None, {}
    for position, (_line, cells) in enumerate(head):
        index = _find_columns(cells, synonyms)
        if len(index) > len(best_index):
            best, best_index = position, index
    if best is None:
        raise importing.BadFile(
            _("No column of the file is one we know: %(columns)s.")
            % {"columns": "、".join(words[0] for words in synonyms.values())},
            code="no_known_columns",
        )
    for key, message in required.items():
        if key not in best_index:
            raise importing.BadFile(message, code="missing_column")
    header_line, header_cells = head[best]
    table = Columns(
        format=fmt,
        headers=[importing._cell_text(c) for c in header_cells],
        header_line=header_line,
        index=best_index,
        rows=[],
    )

    def take(line_no: int, cells) -> bool:
        if all(importing._is_blank(c) for c in cells):
            return True
        if importing._is_note(cells):
            text = next(importing._cell_text(c) for c in cells if not importing._is_blank(c))
            table.notes.append(
                _("Reading stopped at line %(line)s: “%(text)s”.")
                % {"line": line_no, "text": text[:40]}
            )
            return False
        if len(table.rows) >= max_rows:
            raise importing.BadFile(
                _("The file has more than %(max)s rows; import at most %(max)s at a time.")
                % {"max": max_rows},
                code="too_many_rows",
            )
        table.rows.append((line_no, list(cells)))
        return True

    going = True
    for line_no, cells in head[best + 1 :]:
        if not take(line_no, cells):
            going = False
            break
    if going:
        for cells in source:
            line += 1
            if not take(line, cells):
                break
    if not table.rows:
        raise importing.BadFile(_("The file has a header row but no data rows."), code="no_rows")
    return table


class BadCell(ValueError):
    pass


def parse_money(value) -> Decimal | None:
    """An amount as a bank or a person writes it (1,234.50 / ¥15.00 / 15元 / +15); None for a
    blank cell; BadCell when it is no amount or has more than two decimals."""
    if importing._is_blank(value):
        return None
    if isinstance(value, bool):
        raise BadCell(_("“%(value)s” is not an amount.") % {"value": value})
    if isinstance(value, int | float):
        text = repr(float(value)) if isinstance(value, float) else str(value)
    else:
        text = str(value).translate(importing._FULLWIDTH)
        text = _MONEY_NOISE.sub("", text).lstrip("+")
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise BadCell(_("“%(value)s” is not an amount.") % {"value": value}) from None
    if not amount.is_finite():
        raise BadCell(_("“%(value)s” is not an amount.") % {"value": value})
    # Before any arithmetic: 1e30 to the fen has more digits than the decimal context holds,
    # and abs() of 1e999999999999999999 overflows (copy_abs does no arithmetic).
    if amount.copy_abs() > rules.MAX_BASE:
        raise BadCell(_("“%(value)s” is too large.") % {"value": value})
    if amount != amount.quantize(rules.CENT):
        raise BadCell(
            _("“%(value)s” has more than two decimals: amounts are in yuan and fen.")
            % {"value": value}
        )
    return amount.quantize(rules.CENT)


def _text(value, limit: int) -> str:
    text = importing.plain_text(value)
    if has_control_characters(text):
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())[:limit]


def _reference(value) -> str:
    """A bank reference as text; BadCell when a spreadsheet has turned it into a rounded
    number."""
    if isinstance(value, float) and not (value.is_integer() and abs(value) < 2**53):
        raise BadCell(
            _(
                "The reference was stored as a number and has lost digits (%(value)s). "
                "Format the column as text."
            )
            % {"value": f"{value:.15g}"}
        )
    text = re.sub(r"\s+", "", importing.plain_text(value))
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        raise BadCell(
            _(
                "The reference was stored as a number and has lost digits (%(value)s). "
                "Format the column as text."
            )
            % {"value": text}
        )
    if has_control_characters(text):
        raise BadCell(_("The reference contains control characters."))
    if len(text) > 64:
        raise BadCell(_("The reference is longer than 64 characters."))
    return text


@dataclass
class StatementRow:
    """One line of a bank statement as read; `problem` says why it cannot be matched."""

    row: int  # line in the file
    paid_on: datetime.date | None = None
    amount: Decimal | None = None
    name: str = ""
    reference: str = ""
    memo: str = ""
    problem: str = ""


def read_statement(file, name: str | None = None) -> list[StatementRow]:
    """The incoming payments of a bank statement (CSV or xlsx). Rows that only pay out (a
    debit column filled, the credit one blank) are left out; a row with a bad date or amount
    is kept with its problem, to be shown as unmatched. ValidationFailed(field="file") when
    the file cannot be read or has no amount column."""
    data, found_name = file_bytes(file)
    table = read_columns(
        data,
        name if name is not None else found_name,
        STATEMENT_COLUMNS,
        required={
            "amount": _(
                "The statement has no amount column (金额, 贷方金额, 收入 or amount) in its "
                "header row."
            ),
            "date": _(
                "The statement has no date column (交易日期, 日期 or date) in its header row."
            ),
        },
        max_rows=MAX_STATEMENT_ROWS,
    )
    today = timezone.localdate()
    rows = []
    for line, cells in table.rows:
        item = StatementRow(row=line)
        problems = []
        item.name = re.sub(r"\s+", "", _text(table.cell(cells, "name"), 64))
        item.memo = _text(table.cell(cells, "memo"), 255)
        try:
            item.reference = _reference(table.cell(cells, "reference"))
        except BadCell as exc:
            problems.append(str(exc))
        raw_amount = table.cell(cells, "amount")
        try:
            item.amount = parse_money(raw_amount)
        except BadCell as exc:
            problems.append(str(exc))
        else:
            if item.amount is None:
                if not importing._is_blank(table.cell(cells, "debit")):
                    continue  # money paid out of the account: not a member's payment
                problems.append(_("No amount."))
            elif item.amount <= 0:
                problems.append(_("%(amount)s is not money received.") % {"amount": item.amount})
        try:
            item.paid_on = importing.parse_date(table.cell(cells, "date"))
        except importing.CellError as exc:
            problems.append(exc.message)
        else:
            if item.paid_on is None:
                problems.append(_("No date."))
            elif item.paid_on > today:
                problems.append(_("The date is in the future."))
            elif item.paid_on.year < services.EARLIEST_YEAR:
                problems.append(_("The date is too early."))
            else:
                item.paid_on = datetime.date(
                    item.paid_on.year, item.paid_on.month, item.paid_on.day
                )
        item.problem = " ".join(str(p) for p in problems)[:255]
        rows.append(item)
    if not rows:
        raise importing.BadFile(
            _("The statement has no money received in it."), code="no_rows", field="file"
        )
    return rows


# Matching --------------------------------------------------------------------------------------


def _require(actor, org: Organization) -> None:
    services._require(actor, org)


def _month(line) -> str:
    return f"{line.year}-{line.month:02d}"


@dataclass
class _Fit:
    lines: list | None
    reason: str = ""


def _fit(open_lines: list, amount: Decimal, paid_on: datetime.date, name: str) -> _Fit:
    """The member's oldest open months (not in advance of the day paid, one collecting
    organisation) whose remaining amounts add up to exactly `amount`."""
    if not open_lines:
        return _Fit(None, _("%(name)s owes nothing here.") % {"name": name})
    run, total = [], Decimal(0)
    for line in open_lines:
        if run and line.organization_id != run[0].organization_id:
            break
        run.append(line)
        total += line.remaining
        if total >= amount:
            break
    if total == amount:
        now = rules.month_index(paid_on.year, paid_on.month)
        if any(rules.month_index(line.year, line.month) > now for line in run):
            return _Fit(
                None,
                _(
                    "The amount would pay months in advance for %(name)s: record it on the "
                    "payment page with the branch's approval."
                )
                % {"name": name},
            )
        return _Fit(run)
    owed = sum((line.remaining for line in open_lines), Decimal(0))
    first = open_lines[0]
    return _Fit(
        None,
        _(
            "%(amount)s yuan is not what %(name)s owes for the oldest months: %(first)s yuan "
            "for %(month)s, %(owed)s yuan in all for %(n)d months."
        )
        % {
            "amount": amount,
            "name": name,
            "first": first.remaining,
            "month": _month(first),
            "owed": owed,
            "n": len(open_lines),
        },
    )


def _names_in(text: str, by_name: dict[str, list[int]]) -> list[str]:
    """Member names written in a memo; a name inside a longer one found (张三 in 张三丰) is
    dropped."""
    if not text:
        return []
    compact = re.sub(r"\s+", "", text)
    found = set()
    for size in NAME_LENGTHS:
        for start in range(0, len(compact) - size + 1):
            piece = compact[start : start + size]
            if piece in by_name:
                found.add(piece)
    return sorted(n for n in found if not any(n != m and n in m for m in found))


def _late_note(lines: list, paid_on: datetime.date) -> str:
    timing = rules.payment_timing([(line.year, line.month) for line in lines], paid_on)
    if not timing["late"]:
        return ""
    return _(
        "Includes months more than %(n)d months before the day paid (back-payment): "
        "check before confirming."
    ) % {"n": rules.LATE_MONTHS}


@transaction.atomic
def match(actor, org: Organization, rows: list[StatementRow], *, file_name: str = "") -> Statement:
    """Store the statement's lines, each classified (see the module's docstring). Needs
    dues.manage at `org`; members and ledger lines are looked for in its subtree."""
    _require(actor, org)
    statement = Statement.objects.create(
        organization=org,
        org_path=org.path,
        file_name=(file_name or _("statement"))[:255],
        uploaded_by=services._user(actor),
    )
    subtree = core_selectors.subtree_range("org_path", org.path)
    refs = {r.reference for r in rows if r.reference and not r.problem}
    # Bank serials are unique per bank, not across the platform: another organisation's
    # payment with the same serial is not this one (and its receipt is not shown here). A
    # reversed payment is not on file any more: its line may be recorded again.
    by_reference: dict[str, Payment] = {}
    for p in (
        Payment.objects.filter(
            subtree, method=Method.BANK, reference__in=refs, reversed_at__isnull=True
        )
        .only("pk", "reference", "receipt_no", "member_id")
        .order_by("pk")
    ):
        by_reference.setdefault(p.reference, p)
    by_name: dict[str, list[int]] = defaultdict(list)
    for pk, name in Member.objects.filter(subtree).values_list("pk", "name"):
        by_name[re.sub(r"\s+", "", name)].append(pk)

    wanted: list[tuple[StatementRow, list[str]]] = []
    candidates: set[int] = set()
    for row in rows:
        if row.problem or row.reference in by_reference:
            continue
        names = [row.name] if row.name in by_name else []
        memo_names = [n for n in _names_in(row.memo, by_name) if n not in names]
        wanted.append((row, names + memo_names))
        for n in names + memo_names:
            candidates.update(by_name[n])

    member_names = dict(Member.objects.filter(pk__in=candidates).values_list("pk", "name"))
    open_lines: dict[int, list] = defaultdict(list)
    for line in (
        LedgerLine.objects.filter(subtree, member_id__in=candidates, status__in=OPEN)
        .only("pk", "member_id", "year", "month", "due", "paid", "status", "organization_id")
        .order_by("member_id", "year", "month")
    ):
        open_lines[line.member_id].append(line)
    # Bank payments already recorded for these members on these days: a statement without
    # references imported again is recognised by member, day and amount.
    recorded: dict[tuple, list[Payment]] = defaultdict(list)
    days = {row.paid_on for row, _n in wanted if not row.reference}
    if days:
        for p in Payment.objects.filter(
            subtree,
            method=Method.BANK,
            member_id__in=candidates,
            paid_on__in=days,
            reversed_at__isnull=True,
        ).order_by("pk"):
            recorded[(p.member_id, p.paid_on, p.amount)].append(p)

    names_of = {r.row: n for r, n in wanted}
    claimed: set[int] = set()
    seen_refs: dict[str, int] = {}
    out = []
    for row in rows:
        line = StatementLine(
            statement=statement,
            row=row.row,
            paid_on=row.paid_on,
            amount=row.amount if row.amount is not None else Decimal("0.00"),
            name=row.name,
            reference=row.reference,
            memo=row.memo,
            state=MatchState.UNMATCHED,
        )
        out.append(line)
        if row.problem:
            line.reason = row.problem
            continue
        if row.reference:
            if row.reference in seen_refs:
                line.reason = _("The same reference is on line %(row)d.") % {
                    "row": seen_refs[row.reference]
                }
                continue
            seen_refs[row.reference] = row.row
            found = by_reference.get(row.reference)
            if found is not None:
                line.state = MatchState.RECORDED
                line.payment = found
                line.reason = _("Recorded already (receipt %(no)s).") % {"no": found.receipt_no}
                continue
        names = names_of.get(row.row, [])
        if not names:
            line.reason = (
                _("No member named %(name)s in %(org)s, and no member's name in the memo.")
                % {"name": row.name, "org": org.name}
                if row.name
                else _("No payer's name, and no member's name in the memo.")
            )
            continue
        members = [pk for n in names for pk in by_name[n]]
        if not row.reference:
            again = None
            for pk in members:
                found = recorded.get((pk, row.paid_on, row.amount))
                if found:
                    again = found.pop(0)
                    break
            if again is not None:
                line.state = MatchState.RECORDED
                line.payment = again
                line.reason = _(
                    "A bank payment of this amount on this day is recorded already for "
                    "%(name)s (receipt %(no)s)."
                ) % {"name": member_names.get(again.member_id, ""), "no": again.receipt_no}
                continue
        fits, reasons = [], []
        for pk in members:
            lines = [x for x in open_lines.get(pk, []) if x.pk not in claimed]
            fit = _fit(lines, row.amount, row.paid_on, member_names.get(pk, ""))
            if fit.lines:
                fits.append((pk, fit.lines))
            else:
                reasons.append(fit.reason)
        line.candidates = [{"member": pk, "lines": [x.pk for x in ls]} for pk, ls in fits]
        if len(fits) == 1:
            line.state = MatchState.MATCHED
            line.chosen = line.candidates[0]
            claimed.update(x.pk for x in fits[0][1])
            line.reason = _late_note(fits[0][1], row.paid_on)
        elif fits:
            line.state = MatchState.AMBIGUOUS
            line.reason = (
                _("%(n)d members fit this payment: choose who paid.") % {"n": len(fits)}
                + " "
                + " ".join(filter(None, (_late_note(ls, row.paid_on) for _pk, ls in fits)))
            ).strip()[:255]
        else:
            line.reason = " ".join(dict.fromkeys(reasons))[:255]
    StatementLine.objects.bulk_create(out)
    counts = _counts(out)
    audit.record(
        actor,
        "dues.statement.import",
        statement,
        after={"file": statement.file_name, "rows": len(out), **counts},
        org_path=org.path,
        label=f"{org.name} {statement.file_name}",
    )
    return statement


def _counts(lines) -> dict[str, int]:
    counts = {state: 0 for state in MatchState.values}
    for line in lines:
        counts[line.state] += 1
    return counts


def counts(statement: Statement) -> dict[str, int]:
    found = {state: 0 for state in MatchState.values}
    for state, n in statement.lines.values_list("state").annotate(n=Count("pk")).order_by():
        found[state] = n
    found["chosen"] = statement.lines.filter(
        state=MatchState.AMBIGUOUS, chosen__isnull=False
    ).count()
    return found


def _to_record(statement: Statement):
    return statement.lines.filter(
        Q(state=MatchState.MATCHED) | Q(state=MatchState.AMBIGUOUS, chosen__isnull=False),
        payment__isnull=True,
    ).order_by("row")


def _locked(statement: Statement) -> Statement:
    return (
        Statement.objects.select_for_update()
        .select_related("organization")
        .get(pk=getattr(statement, "pk", statement))
    )


@transaction.atomic
def choose(actor, statement: Statement, line, member_id) -> StatementLine:
    """Settle an ambiguous line: the member (one of its candidates) who paid; `member_id`
    None or "" undoes the choice."""
    statement = _locked(statement)
    _require(actor, statement.organization)
    if statement.state != StatementState.PREVIEW:
        raise Conflict(_("This statement is confirmed already."), code="already_confirmed")
    try:
        line = statement.lines.get(pk=int(getattr(line, "pk", line)))
    except (StatementLine.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("Line not found.")) from None
    if line.state != MatchState.AMBIGUOUS:
        raise ValidationFailed(
            _("Only an ambiguous line needs a choice."), code="not_ambiguous", field="member"
        )
    if member_id in (None, ""):
        line.chosen = None
        line.save(update_fields=["chosen"])
        return line
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        member_id = None
    candidate = next((c for c in line.candidates if c["member"] == member_id), None)
    if candidate is None:
        raise ValidationFailed(
            _("Choose one of the members listed."), code="invalid_member", field="member"
        )
    wanted = set(candidate["lines"])
    for other in statement.lines.exclude(pk=line.pk).filter(chosen__isnull=False):
        if wanted & set(other.chosen.get("lines", [])):
            raise Conflict(
                _("These months are matched to line %(row)d already.") % {"row": other.row},
                code="months_taken",
                field="member",
            )
    line.chosen = candidate
    line.save(update_fields=["chosen"])
    return line


@transaction.atomic
def confirm(actor, statement: Statement) -> Statement:
    """Record every matched (and chosen) line as a bank payment, all in one transaction: if
    one fails, nothing is recorded and the error names its line. Confirming again does
    nothing."""
    statement = _locked(statement)
    _require(actor, statement.organization)
    if statement.state == StatementState.CONFIRMED:
        return statement
    todo = list(_to_record(statement))
    if not todo:
        raise ValidationFailed(
            _("No line is matched: there is nothing to record."),
            code="nothing_to_confirm",
            field="lines",
        )
    members = Member.objects.in_bulk([line.chosen["member"] for line in todo])
    ledger_lines = LedgerLine.objects.in_bulk([pk for line in todo for pk in line.chosen["lines"]])
    for line in todo:
        member = members.get(line.chosen["member"])
        months = [ledger_lines.get(pk) for pk in line.chosen["lines"]]
        try:
            if member is None or any(m is None or m.member_id != member.pk for m in months):
                raise Conflict(
                    _("The ledger has changed since the statement was checked; upload it again."),
                    code="ledger_changed",
                )
            payment = services.record_payment(
                actor=actor,
                member=member,
                months=[(m.year, m.month) for m in months],
                paid_on=line.paid_on,
                method=Method.BANK,
                amount=line.amount,
                reference=line.reference or f"stmt{statement.pk}-{line.row}",
                request_key=f"stmt{statement.pk}:{line.row}",
                confirm_late=True,
                note=_("Bank statement %(file)s, line %(row)d")
                % {"file": statement.file_name[:180], "row": line.row},
            )
        except ServiceError as exc:
            kind = Conflict if isinstance(exc, Conflict) else ValidationFailed
            raise kind(
                _("Line %(row)d (%(name)s): %(message)s Nothing was recorded.")
                % {
                    "row": line.row,
                    "name": member.name if member else line.name,
                    "message": exc.message,
                },
                code=exc.code,
                field="lines",
            ) from None
        line.payment = payment
    StatementLine.objects.bulk_update(todo, ["payment"])
    statement.state = StatementState.CONFIRMED
    statement.confirmed_at = timezone.now()
    statement.save(update_fields=["state", "confirmed_at"])
    audit.record(
        actor,
        "dues.statement.confirm",
        statement,
        after={
            "file": statement.file_name,
            "recorded": len(todo),
            "lines": [line.row for line in todo],
            "payments": [line.payment_id for line in todo],
            "amount": str(sum((line.amount for line in todo), Decimal(0))),
        },
        org_path=statement.org_path,
        label=f"{statement.organization.name} {statement.file_name}",
    )
    return statement


# Reading for the pages -------------------------------------------------------------------------


@dataclass
class Candidate:
    member_id: int
    name: str
    organization: str
    months: list[str]
    chosen: bool
    born: int | None = None  # the year, to tell members of the same name apart


def lines_for_display(statement: Statement) -> dict[str, list[StatementLine]]:
    """The statement's lines by state, each with `.options` (candidates with names, their
    organisation and months) and `.receipt` (the payment, where recorded): a fixed number of
    queries."""
    lines = list(statement.lines.select_related("payment").order_by("row"))
    member_ids, line_ids = set(), set()
    for line in lines:
        for c in line.candidates:
            member_ids.add(c["member"])
            line_ids.update(c["lines"])
    members = {
        m.pk: m for m in Member.objects.filter(pk__in=member_ids).select_related("organization")
    }
    months = {
        pk: f"{y}-{m:02d}"
        for pk, y, m in LedgerLine.objects.filter(pk__in=line_ids).values_list(
            "pk", "year", "month"
        )
    }
    groups: dict[str, list] = {state: [] for state in MatchState.values}
    for line in lines:
        chosen = (line.chosen or {}).get("member")
        line.options = [
            Candidate(
                member_id=c["member"],
                name=members[c["member"]].name if c["member"] in members else "?",
                organization=(
                    members[c["member"]].organization.name if c["member"] in members else ""
                ),
                months=[months.get(pk, "?") for pk in c["lines"]],
                chosen=c["member"] == chosen,
                born=(
                    members[c["member"]].birth_date.year
                    if c["member"] in members and members[c["member"]].birth_date
                    else None
                ),
            )
            for c in line.candidates
        ]
        groups[line.state].append(line)
    return groups
