"""Spreadsheet import of a year's dues bases (党费基数导入): preview every row, then declare all
rows at once through `services.declare_bases`, or none.

    checked = preview(actor=..., org=..., year=..., file=upload)   # BasesPreview; nothing saved
    token = remember(request.session, checked)                       # the rows stay server-side
    changed = commit(actor=..., org=..., year=..., payload=recall(request.session, token))

Members are found by 编号 (the platform's member number, in the template) first, then by ID
number (its keyed hash, as the member records do), then by name within the organisation's
subtree. `template` writes the organisation's members with this year's bases (or last year's,
as a starting point) to fill in and import again.
"""

import io
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import crypto
from dangjian.core import selectors as core_selectors
from dangjian.core.errors import ValidationFailed
from dangjian.core.exports import safe_cell
from dangjian.core.idnumber import InvalidIdNumber, parse_id_number
from dangjian.core.models import Organization
from dangjian.members import importing
from dangjian.members.models import Member, Status

from . import reconcile, rules, services
from .models import DuesBase

MAX_ROWS = 20_000
SESSION_KEY = "dues_bases_import"
KEEP_PREVIEWS = 3
PREVIEW_SECONDS = 2 * 3600

COLUMNS: dict[str, tuple[str, ...]] = {
    "member_id": ("编号", "党员编号", "member number", "member id", "member_id"),
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "id number", "id_number"),
    "category": ("类别", "党费类别", "交纳类别", "category"),
    "base": ("基数", "交纳基数", "党费基数", "工资基数", "月工资收入", "养老金", "base"),
    "chosen": ("月交纳额", "交纳额", "monthly amount"),
    "override": ("核定金额", "核定月交纳额", "override"),
    "reason": ("原因", "核定原因", "reason"),
}
# Headers written by `template`, in its column order (the importer reads them back).
TEMPLATE_HEADERS = (
    "编号",
    "姓名",
    "身份证号",
    "所在组织",
    "类别",
    "基数",
    "月交纳额",
    "核定金额",
    "原因",
    "备注（不导入）",
)
# The labels written in files; the importer also accepts the words below and the codes.
CATEGORY_LABELS = {
    rules.IN_SERVICE: "在职",
    rules.RETIRED: "离退休",
    rules.FARMER: "农民",
    rules.STUDENT: "学生",
    rules.UNEMPLOYED: "失业",
    rules.RELIEF: "低保",
}
CATEGORY_WORDS = {
    **{label: code for code, label in CATEGORY_LABELS.items()},
    **{code: code for code in rules.CATEGORIES},
    "在职党员": rules.IN_SERVICE,
    "在职人员": rules.IN_SERVICE,
    "在岗": rules.IN_SERVICE,
    "个体": rules.IN_SERVICE,
    "个体工商户": rules.IN_SERVICE,
    "inservice": rules.IN_SERVICE,
    "退休": rules.RETIRED,
    "离休": rules.RETIRED,
    "离退休人员": rules.RETIRED,
    "离退休党员": rules.RETIRED,
    "农民党员": rules.FARMER,
    "学生党员": rules.STUDENT,
    "下岗": rules.UNEMPLOYED,
    "下岗失业": rules.UNEMPLOYED,
    "失业人员": rules.UNEMPLOYED,
    "享受低保": rules.RELIEF,
    "最低生活保障": rules.RELIEF,
    "救济": rules.RELIEF,
    "依靠抚恤或救济生活": rules.RELIEF,
}
FIELD_COLUMNS = {
    "member": "编号",
    "category": "类别",
    "base": "基数",
    "override": "核定金额",
    "override_reason": "原因",
}


def category_code(value) -> str:
    """The category code of a cell ('' for a blank one); ValueError for an unknown word."""
    text = re.sub(r"[\s\u3000]+", "", importing.plain_text(value)).lower()
    if not text:
        return ""
    text = text.replace("_", "").replace("-", "") if text not in CATEGORY_WORDS else text
    found = CATEGORY_WORDS.get(text) or CATEGORY_WORDS.get(text.replace(" ", ""))
    if found is None:
        raise ValueError(
            _("Unknown category “%(value)s”: write %(labels)s.")
            % {"value": value, "labels": "、".join(CATEGORY_LABELS.values())}
        )
    return found


@dataclass
class BaseRow:
    """One row of the file as checked."""

    line: int
    name: str = ""
    member_id: int | None = None
    member_name: str = ""
    organization: str = ""
    category: str = ""
    base: Decimal | None = None
    amount: Decimal | None = None
    override: Decimal | None = None
    override_reason: str = ""
    change: str = ""  # "new", "changed", "same"
    before: Decimal | None = None  # the amount declared before, if any
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, "")


@dataclass
class BasesPreview:
    organization: Organization
    year: int
    file_name: str
    rows: list[BaseRow]
    skipped: int = 0  # rows with nothing declared (no category, base or amount)
    notes: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return sum(1 for r in self.rows if r.errors)

    @property
    def warning_rows(self) -> int:
        return sum(1 for r in self.rows if r.warnings)

    @property
    def changes(self) -> int:
        return sum(1 for r in self.rows if r.change in ("new", "changed"))

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.error_rows

    def payload(self) -> dict:
        """What `commit` needs, for keeping on the server between preview and commit."""
        return {
            "org": self.organization.pk,
            "year": self.year,
            "file": self.file_name,
            "rows": [
                {
                    "line": r.line,
                    "member": r.member_id,
                    "category": r.category,
                    "base": str(r.base) if r.base is not None else None,
                    "override": str(r.override) if r.override is not None else None,
                    "override_reason": r.override_reason,
                }
                for r in self.rows
            ],
        }


def _member_number(value) -> int | None:
    if importing._is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", "", str(value)).translate(importing._FULLWIDTH)
    if not text.isdigit() or len(text) > 12:
        raise ValueError(_("“%(value)s” is not a member number (编号).") % {"value": value})
    return int(text)


def _money(value, row: BaseRow, label: str) -> Decimal | None:
    try:
        return reconcile.parse_money(value)
    except reconcile.BadCell as exc:
        row.errors.append(f"{label}: {exc}")
        return None


def preview(*, actor, org: Organization, year, file, name: str | None = None) -> BasesPreview:
    """Check every row of the file against the members of `org`'s subtree and the rules of
    the year; nothing is saved. ValidationFailed(field="file") for a file that cannot be read."""
    services._require(actor, org)
    year = services.check_year(year)
    data, found_name = reconcile.file_bytes(file)
    file_name = name if name is not None else found_name
    table = reconcile.read_columns(
        data,
        file_name,
        COLUMNS,
        required={
            "category": _("The file has no category column (类别 or category) in its header row.")
        },
        max_rows=MAX_ROWS,
    )
    if not {"member_id", "name", "id_number"} & set(table.index):
        raise importing.BadFile(
            _("The file names no member: it needs a column 编号, 姓名 or 身份证号."),
            code="missing_column",
        )
    checked = BasesPreview(
        organization=org, year=year, file_name=file_name, rows=[], notes=list(table.notes)
    )
    parsed = []
    for line, cells in table.rows:
        row = BaseRow(line=line)
        cell = lambda key, cells=cells: table.cell(cells, key)  # noqa: E731
        declared = [cell(k) for k in ("category", "base", "chosen", "override")]
        if all(importing._is_blank(v) for v in declared):
            checked.skipped += 1
            continue
        row.name = re.sub(r"\s+", "", importing.plain_text(cell("name")))[:64]
        number = id_hash = None
        try:
            number = _member_number(cell("member_id"))
        except ValueError as exc:
            row.errors.append(str(exc))
        try:
            id_text = importing.id_number_text(cell("id_number"))
        except importing.CellError as exc:
            id_text = ""
            if number is None:
                row.errors.append(exc.message)
        if id_text and "*" not in id_text:
            try:
                id_hash = crypto.keyed_hash(parse_id_number(id_text).number)
            except InvalidIdNumber:
                row.errors.append(
                    _("“%(value)s” is not a valid ID number.") % {"value": id_text[:24]}
                )
        elif id_text and number is None:
            row.errors.append(
                _(
                    "The ID number is masked: keep the 编号 column of the template or enter the full number."
                )
            )
        try:
            row.category = category_code(cell("category"))
        except ValueError as exc:
            row.errors.append(str(exc))
        else:
            if not row.category:
                row.errors.append(_("Enter the category (类别)."))
        row.base = _money(cell("base"), row, _("base"))
        chosen = _money(cell("chosen"), row, _("monthly amount"))
        if row.category == rules.FARMER and chosen is not None:
            row.base = chosen
        row.override = _money(cell("override"), row, _("amount set by hand"))
        row.override_reason = importing.plain_text(cell("reason"))
        parsed.append((row, number, id_hash))
        checked.rows.append(row)
    _find_members(checked, parsed, org)
    _check_values(checked, actor, year)
    return checked


def _find_members(checked: BasesPreview, parsed: list, org: Organization) -> None:
    numbers = {n for _r, n, _h in parsed if n is not None}
    hashes = {h for _r, _n, h in parsed if h}
    names = {r.name for r, n, h in parsed if n is None and not h and r.name}
    fields = ("pk", "name", "org_path", "id_number_hash", "organization__name")
    # Members are looked for inside the subtree only, and a number or ID number not found there
    # gets one message whether or not it is someone's elsewhere: an import must not tell who
    # is a member outside the importer's scope.
    subtree = core_selectors.subtree_range("org_path", org.path)
    by_pk, by_hash, by_name = {}, {}, {}
    if numbers or hashes:
        for m in (
            Member.objects.filter(subtree)
            .filter(Q(pk__in=numbers) | Q(id_number_hash__in=hashes))
            .values(*fields)
        ):
            by_pk[m["pk"]] = m
            by_hash[m["id_number_hash"]] = m
    if names:
        for m in Member.objects.filter(subtree, name__in=names).values(*fields):
            by_name.setdefault(m["name"], []).append(m)

    first_line: dict[int, int] = {}
    for row, number, id_hash in parsed:
        member = None
        if number is not None:
            member = by_pk.get(number)
            if member is None:
                row.errors.append(
                    _("No member of %(org)s has the number %(n)s.") % {"org": org.name, "n": number}
                )
            elif id_hash and member["id_number_hash"] != id_hash:
                row.errors.append(_("The ID number is not that of member %(n)s.") % {"n": number})
        elif id_hash:
            member = by_hash.get(id_hash)
            if member is None:
                row.errors.append(_("No member of %(org)s has this ID number.") % {"org": org.name})
        elif row.name:
            found = by_name.get(row.name, [])
            if len(found) == 1:
                member = found[0]
            elif found:
                row.errors.append(
                    _("%(n)d members are named %(name)s: add the 编号 or the ID number.")
                    % {"n": len(found), "name": row.name}
                )
            else:
                row.errors.append(
                    _("No member named %(name)s in %(org)s.") % {"name": row.name, "org": org.name}
                )
        elif not row.errors:
            row.errors.append(_("The row names no member (编号, 姓名 or 身份证号)."))
        if member is None:
            continue
        if row.name and row.name != re.sub(r"\s+", "", member["name"]):
            row.errors.append(
                _("The name does not match the member found (%(name)s).") % {"name": member["name"]}
            )
        row.member_id = member["pk"]
        row.member_name = member["name"]
        row.organization = member["organization__name"]
        if row.member_id in first_line:
            row.errors.append(
                _("The same member is on line %(line)d.") % {"line": first_line[row.member_id]}
            )
        else:
            first_line[row.member_id] = row.line


def _check_values(checked: BasesPreview, actor, year: int) -> None:
    existing = {
        b.member_id: b
        for b in DuesBase.objects.filter(
            year=year, member_id__in=[r.member_id for r in checked.rows if r.member_id]
        )
    }
    for row in checked.rows:
        if not row.category:
            continue  # the category's error is on the row already
        try:
            values = services._base_values(
                actor,
                None,
                year,
                row.category,
                row.base,
                row.override,
                row.override_reason,
            )
        except ValidationFailed as exc:
            label = FIELD_COLUMNS.get(exc.field or "", "")
            row.errors.append(f"{label}: {exc.message}" if label else str(exc.message))
            continue
        if row.category in rules.FIXED and row.base:
            row.warnings.append(_("A fixed amount applies to this category: the base is not used."))
        row.base = values["base"]
        row.override = values["override"]
        row.override_reason = values["override_reason"]
        row.amount = row.override if row.override is not None else values["computed"]
        if row.override is not None:
            row.warnings.append(
                _("Amount set by hand: %(amount)s yuan (by the rules %(computed)s).")
                % {"amount": row.override, "computed": values["computed"]}
            )
        if rules.is_unusual(row.amount):
            row.warnings.append(
                _("Monthly dues above %(n)s yuan are unusual: check the base.")
                % {"n": rules.UNUSUAL_AMOUNT}
            )
        before = existing.get(row.member_id)
        if before is None:
            row.change = "new"
        elif (
            before.category,
            before.base,
            before.override,
            before.override_reason,
        ) == (row.category, row.base, row.override, row.override_reason):
            row.change = "same"
        else:
            row.change = "changed"
            row.before = before.amount


# Keeping the checked rows between preview and commit -------------------------------------------


def remember(session, checked: BasesPreview) -> str:
    """Keep a preview without errors in the (server-side) session; the token names it."""
    if not checked.ok:
        raise ValidationFailed(
            _("Correct the rows with errors and upload the file again."),
            code="rows_invalid",
            field="file",
        )
    token = uuid.uuid4().hex
    kept = dict(session.get(SESSION_KEY) or {})
    now = timezone.now().timestamp()
    kept = {
        k: v
        for k, v in sorted(kept.items(), key=lambda kv: kv[1].get("at", 0))[-(KEEP_PREVIEWS - 1) :]
        if now - v.get("at", 0) < PREVIEW_SECONDS
    }
    kept[token] = {**checked.payload(), "at": now}
    session[SESSION_KEY] = kept
    return token


def recall(session, token: str, *, org: Organization, year: int, forget: bool = False) -> dict:
    kept = session.get(SESSION_KEY) or {}
    payload = kept.get(str(token or ""))
    if (
        payload is None
        or payload.get("org") != org.pk
        or payload.get("year") != year
        or timezone.now().timestamp() - payload.get("at", 0) > PREVIEW_SECONDS
    ):
        raise ValidationFailed(
            _("The checked file is no longer at hand: upload it again."),
            code="preview_expired",
            field="file",
        )
    if forget:
        kept = dict(kept)
        kept.pop(token, None)
        session[SESSION_KEY] = kept
    return payload


class ImportRowErrors(ValidationFailed):
    """Rows refused at commit (the database changed since the preview): line -> messages."""

    def __init__(self, message, lines: dict[int, list[str]]):
        super().__init__(message, code="rows_invalid", field="file")
        self.lines = lines


def commit(*, actor, org: Organization, year, payload: dict) -> int:
    """Declare every row of a checked file (all or none) through services.declare_bases;
    the service checks the permission, the members' organisation and the values again.
    Returns how many bases changed."""
    year = services.check_year(year)
    if payload.get("org") != org.pk or payload.get("year") != year:
        raise ValidationFailed(
            _("This file was checked for another organisation or year."),
            code="preview_mismatch",
            field="file",
        )
    rows = payload.get("rows") or []
    try:
        return services.declare_bases(
            actor=actor,
            org=org,
            year=year,
            rows=[
                {
                    "member": r["member"],
                    "category": r["category"],
                    "base": r["base"],
                    "override": r["override"],
                    "override_reason": r["override_reason"],
                }
                for r in rows
            ],
        )
    except services.RowErrors as exc:
        lines = {
            rows[i]["line"]: [f"{FIELD_COLUMNS.get(f, f)}: {m}" for f, m in problems.items()]
            for i, problems in exc.rows.items()
        }
        raise ImportRowErrors(exc.message, lines) from None


# The template -----------------------------------------------------------------------------------


def template(*, actor, org: Organization, year) -> tuple[str, bytes]:
    """(file name, xlsx) listing the active members of `org`'s subtree with their base of
    `year`, or last year's as a starting point, to fill in and import."""
    from openpyxl import Workbook

    services._require(actor, org)
    year = services.check_year(year)
    members = list(
        Member.objects.filter(
            core_selectors.subtree_range("org_path", org.path), status=Status.ACTIVE
        )
        .select_related("organization")
        .only("pk", "name", "id_number_encrypted", "organization__name", "org_path")
        .order_by("org_path", "name", "pk")
    )
    bases: dict[tuple[int, int], DuesBase] = {
        (b.member_id, b.year): b
        for b in DuesBase.objects.filter(
            member_id__in=[m.pk for m in members], year__in=(year, year - 1)
        )
    }
    book = Workbook(write_only=True)
    sheet = book.create_sheet(f"{year}年党费基数")
    sheet.column_dimensions["A"].width = 10
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 22
    sheet.column_dimensions["D"].width = 24
    sheet.column_dimensions["J"].width = 24
    sheet.append(list(TEMPLATE_HEADERS))
    for m in members:
        base = bases.get((m.pk, year))
        note = ""
        if base is None:
            base = bases.get((m.pk, year - 1))
            note = f"沿用{year - 1}年" if base else "未申报"
        cells = [m.pk, m.name, crypto.mask_id_number(crypto.decrypt(m.id_number_encrypted))]
        cells.append(m.organization.name)
        if base is None:
            cells += ["", None, None, None, ""]
        else:
            farmer = base.category == rules.FARMER
            cells += [
                CATEGORY_LABELS.get(base.category, base.category),
                None if farmer or base.category in rules.FIXED else base.base,
                base.base if farmer else None,
                base.override,
                base.override_reason,
            ]
        cells.append(note)
        sheet.append([safe_cell(c) for c in cells])
    guide = book.create_sheet("填写说明")
    low, high = rules.rule_for_year(year).farmer_range
    for text in (
        "按“编号”匹配党员（请勿修改编号）；也可删除编号列，按身份证号或姓名匹配。",
        "类别：" + "、".join(CATEGORY_LABELS.values()) + "。",
        "基数：在职党员填每月工资收入（税后，不含各类津贴补贴），离退休党员填基本离退休费。",
        f"月交纳额：农民党员填自愿交纳的金额（{low}至{high}元）。学生、失业、低保党员每月交纳固定金额，不填基数。",
        "核定金额：按规定需要另行核定金额的，填写金额并在“原因”中说明。",
        "类别、基数、月交纳额、核定金额都空着的行不导入。",
    ):
        guide.append([text])
    handle = io.BytesIO()
    book.save(handle)
    return f"dues-bases-{year}-{org.code}.xlsx", handle.getvalue()
