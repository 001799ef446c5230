"""The introduction letter (党员组织关系介绍信) in its standard three parts on one page: the stub
(存根) kept by the issuing committee, the letter (介绍信) the member carries, and the receipt
(回执) the receiving organisation sends back; dashed cut lines between them. As PDF (WeasyPrint,
with the CJK fonts installed by setup, like members/documents.py) and as Word (python-docx).

The form is the national one: its words are Chinese in every language. The ID number is printed
masked unless the user asked for it in full and may see it; a letter with the full number records
an audit event (letter.print_full).
"""

import datetime
import io
import re

from django.template.loader import render_to_string

from dangjian.core import audit, codes, crypto
from dangjian.members import rules as member_rules
from dangjian.members import services as member_services
from dangjian.members.exporting import CATEGORY_NAMES
from dangjian.members.models import Member

from .models import State, Transfer

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TITLE = "中国共产党党员组织关系介绍信"
PARTS = ("存根", "介绍信", "回执")
CUT = "沿此虚线剪开"
BLANK = "＿＿＿＿"
DENSE_AFTER = 160  # characters of names and reason


# What XML (so Word) cannot hold. The services refuse it; rows written before they did, or by
# other means, still print instead of failing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def display_number(transfer: Transfer) -> str:
    """The printed number: issuing committee, year and sequence (e.g. 城关镇党委〔2026〕第0007号)."""
    issuer = transfer.letter_issuer
    name = (issuer.short_name or issuer.name) if issuer else ""
    if transfer.letter_seq is None:
        return transfer.letter_number
    return f"{name}〔{transfer.letter_year}〕第{transfer.letter_seq:04d}号"


def file_name(transfer: Transfer) -> str:
    """An ASCII file name (browsers and mail clients mangle others)."""
    return f"letter-{transfer.letter_number or transfer.pk}".replace("/", "-")


def _cn_date(day: datetime.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def letter_values(transfer: Transfer, member: Member, *, full: bool) -> dict:
    """What the three parts say, as text."""
    id_number = crypto.decrypt(member.id_number_encrypted) if member.id_number_encrypted else ""
    if id_number and not full:
        id_number = crypto.mask_id_number(id_number)
    days = (
        (transfer.valid_until - transfer.started_on).days
        if transfer.valid_until and transfer.started_on
        else None
    )
    issuer = transfer.letter_issuer
    age = member_rules.age_on(member.birth_date, transfer.started_on) if member.birth_date else None
    values = {
        "number": display_number(transfer),
        "name": transfer.person_name or member.name,
        "sex": codes.name_of("sex", transfer.sex or member.sex) or BLANK,
        "age": f"{age}岁" if age is not None else BLANK,
        "ethnicity": codes.name_of("ethnicity", member.ethnicity) or BLANK,
        "category": CATEGORY_NAMES.get(transfer.category or member.category, "党员"),
        "id_number": id_number or BLANK,
        "from_org": transfer.from_org.name if transfer.from_org else BLANK,
        "counterpart": transfer.counterpart or BLANK,
        "addressee": transfer.addressee or transfer.counterpart or BLANK,
        "reason": transfer.reason,
        "days": days if days is not None else BLANK,
        "valid_until": _cn_date(transfer.valid_until),
        "issuer": (issuer.name if issuer else "") or BLANK,
        "date": _cn_date(transfer.started_on),
        "void": transfer.state in (State.CANCELLED, State.EXPIRED),
        "void_label": "（已作废）"
        if transfer.state == State.CANCELLED
        else "（已过期）"
        if transfer.state == State.EXPIRED
        else "",
    }
    # Long names and reasons still fit the three parts on one page, in smaller type.
    length = sum(
        len(str(values[k])) for k in ("from_org", "counterpart", "addressee", "issuer", "reason")
    )
    values["dense"] = length > DENSE_AFTER
    return values


def paragraphs(v: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """The three parts as (part name, [(kind, text)]) with kind title / number / to (the
    salutation) / text / sign:
    the one wording both formats print."""
    person = (
        f"{v['name']}同志（{v['sex']}，{v['age']}，{v['ethnicity']}，中共{v['category']}，"
        f"身份证号码：{v['id_number']}）"
    )
    validity = f"（有效期{v['days']}天，至{v['valid_until']}）"
    reason = f"事由：{v['reason']}" if v["reason"] else ""
    stub = [
        ("title", f"{TITLE}（存根）{v['void_label']}"),
        ("number", v["number"]),
        ("text", f"{person}的党员组织关系由{v['from_org']}转到{v['counterpart']}。"),
        *([("text", reason)] if reason else []),
        ("text", validity),
        ("sign", v["issuer"]),
        ("sign", v["date"]),
    ]
    letter = [
        ("title", f"{TITLE}{v['void_label']}"),
        ("number", v["number"]),
        ("to", f"{v['addressee']}："),
        ("text", f"兹介绍{person}的党员组织关系由{v['from_org']}转去你处，请接洽。"),
        ("text", "该同志党费已交到＿＿＿＿年＿＿月。"),
        *([("text", reason)] if reason else []),
        ("sign", f"{v['issuer']}（盖章）"),
        ("sign", v["date"]),
        ("text", validity),
    ]
    receipt = [
        ("title", f"{TITLE}回执{v['void_label']}"),
        ("number", v["number"]),
        ("to", f"{v['issuer']}："),
        ("text", f"{v['name']}同志的党员组织关系已转达我处，特此回执。"),
        ("sign", f"{v['counterpart']}（盖章）"),
        ("sign", "＿＿＿＿年＿＿月＿＿日"),
    ]
    return [("存根", stub), ("介绍信", letter), ("回执", receipt)]


def _audit_full(user, transfer: Transfer, member: Member, what: str, full: bool) -> None:
    if full:
        audit.record(
            user,
            "letter.print_full",
            transfer,
            after={"format": what, "letter_number": transfer.letter_number},
            org_path=transfer.from_org.path if transfer.from_org else member.org_path,
            subject=member_services.subject_of(member),
        )


def letter_pdf(user, transfer: Transfer, member: Member, *, full: bool = False) -> bytes:
    from dangjian.members.documents import _pdf

    values = letter_values(transfer, member, full=full)
    html = render_to_string(
        "transfers/pdf/letter.html",
        {"v": values, "parts": paragraphs(values), "cut": CUT, "title": TITLE},
    )
    data = _pdf(html)
    _audit_full(user, transfer, member, "pdf", full)
    return data


def letter_docx(user, transfer: Transfer, member: Member, *, full: bool = False) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    values = letter_values(transfer, member, full=full)
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    section.top_margin = section.bottom_margin = Mm(12)
    section.left_margin = section.right_margin = Mm(18)
    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    normal.paragraph_format.space_after = Pt(2)
    normal.paragraph_format.space_before = Pt(0)
    document.core_properties.title = xml_safe(f"{TITLE} {values['number']}")

    parts = paragraphs(values)
    for index, (_name, lines) in enumerate(parts):
        for kind, text in lines:
            p = document.add_paragraph()
            run = p.add_run(xml_safe(text))
            if kind == "title":
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                run.bold = True
                run.font.size = Pt(14)
            elif kind in ("number", "sign"):
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            elif kind == "text":
                p.paragraph_format.first_line_indent = Pt(21)
        if index < len(parts) - 1:
            cut = document.add_paragraph()
            cut.alignment = WD_ALIGN_PARAGRAPH.CENTER
            cut.paragraph_format.space_before = Pt(8)
            cut.paragraph_format.space_after = Pt(8)
            line = "- " * 22
            run = cut.add_run(f"{line}{CUT}{line}")
            run.font.size = Pt(8)
    buffer = io.BytesIO()
    document.save(buffer)
    _audit_full(user, transfer, member, "docx", full)
    return buffer.getvalue()
