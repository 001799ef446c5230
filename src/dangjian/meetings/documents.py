"""Documents of organisational life: the record of one meeting (会议记录) as PDF and Word, and an
organisation's minute book of a year (会议记录本: cover, contents, every meeting held) as one PDF.

PDF through WeasyPrint with the CJK fonts installed by setup, Word through python-docx, like the
introduction letters (transfers/documents.py). The records are the branch's own forms: their
labels are Chinese in every language. The caller has checked the scope.

The minutes are stored as sanitised HTML. The PDF prints them as they are; Word gets them
through `minutes_blocks`, a small converter over the standard library's HTML parser, because
python-docx has no HTML import and the sanitiser leaves only a handful of tags to map.
"""

import datetime
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from dangjian.core.models import Organization
from dangjian.core.rules import meeting_is_valid
from dangjian.transfers.documents import DOCX_TYPE, xml_safe

from . import services
from .models import AttendeeState, Meeting, MeetingStatus
from .services import sanitise

__all__ = ["DOCX_TYPE", "BOOK_LIMIT", "record_pdf", "record_docx", "minute_book_pdf"]

# Meetings in one minute book: a year of a branch is some forty, so the limit is only reached
# by an organisation recording far more than it must; the cover says when it was.
BOOK_LIMIT = 500

RECORD_TITLE = "会议记录"
BOOK_TITLE = "会议记录本"
BLANK = "＿＿＿＿"


def type_name(activity_type) -> str:
    """The type's name as the records print it: in Chinese, whatever the reader's language (the
    records are official documents, written in Chinese throughout)."""
    with translation.override("zh-hans"):
        return services.type_name(activity_type)


def _cn_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _when(meeting: Meeting) -> str:
    start, end = timezone.localtime(meeting.starts_at), timezone.localtime(meeting.ends_at)
    if start.date() == end.date():
        return f"{_cn_date(start.date())} {start:%H:%M}—{end:%H:%M}"
    return f"{_cn_date(start.date())} {start:%H:%M} 至 {_cn_date(end.date())} {end:%H:%M}"


def _people(attendees, state: str) -> dict:
    names = [a.name + ("（流入党员）" if a.guest else "") for a in attendees if a.state == state]
    return {"count": len(names), "names": "、".join(names)}


def _resolution(r) -> dict:
    votes = f"赞成{r.yes}票"
    if r.written:
        votes += f"，另书面意见赞成{r.written}份"
    votes += f"，反对{r.no}票，弃权{r.abstain}票"
    if r.secret_ballot:
        votes += "（无记名投票）"
    if not r.valid:
        outcome = "会议无效，表决不生效"
    else:
        outcome = "通过" if r.passed else "未通过"
    return {
        "title": r.title,
        "counts": f"应到有表决权党员{r.voting_members}名，实到{r.present}名；{votes}。",
        "outcome": outcome,
        "passed": r.passed,
    }


def record_values(meeting: Meeting) -> dict:
    """What a meeting's record says, as text (attendees and resolutions prefetched)."""
    attendees = list(meeting.attendees.all())
    fields = [
        ("党组织", meeting.organization.name),
        ("会议类型", type_name(meeting.activity_type)),
        ("会议主题", meeting.topic),
        ("时间", _when(meeting)),
        ("地点", meeting.place or ("线上" if meeting.online_link else BLANK)),
    ]
    if meeting.online_link:
        fields.append(("线上会议", meeting.online_link))
    fields += [
        ("主持人", meeting.host or BLANK),
        ("记录人", str(meeting.recorder) if meeting.recorder_id else BLANK),
    ]
    if meeting.activity_type.code == "lecture" or meeting.lecturer or meeting.lecture_title:
        fields += [
            ("主讲人", meeting.lecturer or BLANK),
            ("党课题目", meeting.lecture_title or BLANK),
        ]
    present = _people(attendees, AttendeeState.PRESENT)
    leave = _people(attendees, AttendeeState.LEAVE)
    absent = _people(attendees, AttendeeState.ABSENT)
    unmarked = _people(attendees, AttendeeState.EXPECTED)
    fields.append(("应到", f"{len(attendees)}人"))
    for label, group in (("实到", present), ("请假", leave), ("缺席", absent)):
        fields.append(
            (label, f"{group['count']}人" + (f"：{group['names']}" if group["count"] else ""))
        )
    if unmarked["count"]:
        fields.append(("未登记", f"{unmarked['count']}人：{unmarked['names']}"))
    # Whether a voting meeting was valid, once attendance is taken (a blank record printed to
    # take it by hand says nothing yet).
    if meeting.activity_type.votes and (meeting.is_held or unmarked["count"] < len(attendees)):
        voters = sum(1 for a in attendees if a.may_vote)
        voting_present = sum(
            1 for a in attendees if a.may_vote and a.state == AttendeeState.PRESENT
        )
        valid = meeting_is_valid(voters, voting_present)
        fields.append(
            (
                "会议是否有效",
                f"{'有效' if valid else '无效'}（有表决权党员应到{voters}人，实到{voting_present}人，"
                f"{'超过' if valid else '未超过'}半数）",
            )
        )
    return {
        "pk": meeting.pk,
        "title": RECORD_TITLE + ("（已取消）" if meeting.status == MeetingStatus.CANCELLED else ""),
        "topic": meeting.topic,
        "date": timezone.localtime(meeting.starts_at).date(),
        "type": type_name(meeting.activity_type),
        "fields": fields,
        "agenda": [line.strip() for line in meeting.agenda.splitlines() if line.strip()],
        # Stored sanitised; cleaned again because a row may have been written by other means.
        "minutes": sanitise(meeting.minutes),
        "resolutions": [_resolution(r) for r in meeting.resolutions.all()],
        "votes": meeting.activity_type.votes,
    }


def _loaded(qs: QuerySet) -> QuerySet:
    """Meetings with all a record prints: four queries however many."""
    return qs.select_related("organization", "activity_type", "recorder").prefetch_related(
        "attendees", "resolutions"
    )


def _pdf(html: str) -> bytes:
    from dangjian.members.documents import _pdf as weasy

    return weasy(html)


def file_stem(meeting: Meeting) -> str:
    """An ASCII file name (browsers and mail clients mangle others)."""
    day = timezone.localtime(meeting.starts_at).date()
    return f"meeting-{meeting.pk}-{day:%Y%m%d}-record"


def record_pdf(meeting: Meeting) -> bytes:
    meeting = _loaded(Meeting.objects.filter(pk=meeting.pk)).get()
    html = render_to_string("meetings/docs/record_pdf.html", {"r": record_values(meeting)})
    return _pdf(html)


@dataclass
class MinuteBook:
    org: Organization
    year: int
    total: int
    records: list = field(default_factory=list)

    @property
    def cut(self) -> bool:
        return self.total > len(self.records)


def minute_book(org: Organization, year: int, meetings: QuerySet) -> MinuteBook:
    """The held meetings of `meetings` (already scoped and filtered to the organisation and the
    year), in date order, at most BOOK_LIMIT of them."""
    held = meetings.filter(status=MeetingStatus.HELD).order_by("starts_at", "id")
    total = held.count()
    records = [record_values(m) for m in _loaded(held)[:BOOK_LIMIT]]
    return MinuteBook(org=org, year=year, total=total, records=records)


def minute_book_pdf(org: Organization, year: int, meetings: QuerySet) -> bytes:
    book = minute_book(org, year, meetings)
    html = render_to_string(
        "meetings/docs/book_pdf.html",
        {
            "book": book,
            "title": BOOK_TITLE,
            "limit": BOOK_LIMIT,
            "printed": _cn_date(timezone.localdate()),
        },
    )
    return _pdf(html)


def book_stem(org: Organization, year: int) -> str:
    code = re.sub(r"[^A-Za-z0-9_-]", "", org.code or "") or str(org.pk)
    return f"minute-book-{code}-{year}"


# Minutes to Word ---------------------------------------------------------------------------------


@dataclass
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False


@dataclass
class Paragraph:
    kind: str = "p"  # p, h3, h4, li
    level: int = 0  # depth of lists
    quote: int = 0  # depth of block quotes
    prefix: str = ""  # "1. " or "• " of a list item
    runs: list[Run] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass
class Cell:
    header: bool = False
    runs: list[Run] = field(default_factory=list)


@dataclass
class Table:
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Rule:
    pass


_FORMATS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "s": "strike",
}
_SPACE = re.compile(r"\s+")


class MinutesParser(HTMLParser):
    """Sanitised minutes (services.MINUTES_TAGS) to paragraphs of formatted runs, list items with
    their numbers or bullets, tables and rules. Whitespace collapses as a browser would."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list = []
        self.open = dict.fromkeys(("bold", "italic", "underline", "strike"), 0)
        self.lists: list[list] = []  # [tag, items so far]
        self.quote = 0
        self.block: Paragraph | None = None
        self.table: Table | None = None
        self.table_depth = 0
        self.cell: Cell | None = None

    # blocks

    def _flush(self) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        if block.runs:
            block.runs[-1].text = block.runs[-1].text.rstrip(" ")
        if block.text.strip() or block.prefix:
            self.blocks.append(block)

    def _start(self, kind: str = "p", prefix: str = "") -> Paragraph:
        self._flush()
        self.block = Paragraph(kind=kind, level=len(self.lists), quote=self.quote, prefix=prefix)
        return self.block

    def _run(self, text: str, header: bool = False) -> Run:
        return Run(
            text,
            bold=bool(self.open["bold"]) or header,
            italic=bool(self.open["italic"]),
            underline=bool(self.open["underline"]),
            strike=bool(self.open["strike"]),
        )

    def handle_starttag(self, tag, attrs):
        if tag in _FORMATS:
            self.open[_FORMATS[tag]] += 1
        elif self.table_depth:
            self._table_start(tag)
        elif tag == "p":
            if not (self.block is not None and self.block.kind == "li" and not self.block.text):
                self._start("p")
        elif tag in ("h3", "h4"):
            self._start(tag)
        elif tag in ("ul", "ol"):
            self._flush()
            self.lists.append([tag, 0])
        elif tag == "li":
            prefix = "• "
            if self.lists:
                self.lists[-1][1] += 1
                if self.lists[-1][0] == "ol":
                    prefix = f"{self.lists[-1][1]}. "
            self._start("li", prefix)
        elif tag == "blockquote":
            self._flush()
            self.quote += 1
        elif tag == "br":
            (self.block or self._start()).runs.append(self._run("\n"))
        elif tag == "hr":
            self._flush()
            self.blocks.append(Rule())
        elif tag == "table":
            self._flush()
            self.table, self.table_depth = Table(), 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in _FORMATS:
            self.open[_FORMATS[tag]] = max(0, self.open[_FORMATS[tag]] - 1)
        elif self.table_depth:
            self._table_end(tag)
        elif tag in ("p", "h3", "h4", "li"):
            self._flush()
        elif tag in ("ul", "ol"):
            self._flush()
            if self.lists:
                self.lists.pop()
        elif tag == "blockquote":
            self._flush()
            self.quote = max(0, self.quote - 1)

    # tables (one level: a table inside a cell gives its text to that cell)

    def _table_start(self, tag):
        if tag == "table":
            self.table_depth += 1
        elif self.table_depth > 1:
            if tag in ("td", "th", "p", "br") and self.cell is not None and self.cell.runs:
                self.cell.runs.append(self._run("\n"))
        elif tag == "tr":
            self.table.rows.append([])
            self.cell = None
        elif tag in ("td", "th"):
            if not self.table.rows:
                self.table.rows.append([])
            self.cell = Cell(header=tag == "th")
            self.table.rows[-1].append(self.cell)
        elif tag in ("p", "br", "li") and self.cell is not None and self.cell.runs:
            self.cell.runs.append(self._run("\n"))

    def _table_end(self, tag):
        if tag != "table":
            if tag in ("td", "th") and self.table_depth == 1:
                self.cell = None
            return
        self.table_depth -= 1
        if self.table_depth == 0:
            self.blocks.append(self.table)
            self.table = self.cell = None

    def handle_data(self, data):
        text = _SPACE.sub(" ", data)
        if self.table_depth:
            if self.cell is None:
                return
            if not self.cell.runs or self.cell.runs[-1].text.endswith("\n"):
                text = text.lstrip(" ")
            if text:
                self.cell.runs.append(self._run(text, self.cell.header))
            return
        if self.block is None:
            if not text.strip():
                return
            self._start()
        if not self.block.text or self.block.text.endswith(("\n", " ")):
            text = text.lstrip(" ")
        if text:
            self.block.runs.append(self._run(text))

    def close(self):
        super().close()
        self._flush()
        if self.table is not None:
            self.blocks.append(self.table)
            self.table = None


def minutes_blocks(html: str) -> list:
    parser = MinutesParser()
    parser.feed(html or "")
    parser.close()
    return parser.blocks


def _add_runs(paragraph, runs: list[Run]) -> None:
    for item in runs:
        run = paragraph.add_run(xml_safe(item.text))
        run.bold = item.bold or None
        run.italic = item.italic or None
        run.underline = item.underline or None
        if item.strike:
            run.font.strike = True


def _write_minutes(document, html: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    indent = Pt(21)  # two characters of 10.5 pt
    for block in minutes_blocks(html):
        if isinstance(block, Rule):
            rule = document.add_paragraph("—" * 12)
            rule.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif isinstance(block, Table):
            columns = max((len(row) for row in block.rows), default=0)
            if not columns:
                continue
            table = document.add_table(rows=len(block.rows), cols=columns)
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, cell in enumerate(row):
                    _add_runs(table.cell(r, c).paragraphs[0], cell.runs)
        else:
            paragraph = document.add_paragraph()
            form = paragraph.paragraph_format
            depth = block.quote + block.level
            if depth:
                form.left_indent = indent * depth
            if block.prefix:
                # Numbers and bullets as text: python-docx's list styles share one numbering
                # across the document, so a second list would go on counting from the first.
                form.first_line_indent = -indent
                paragraph.add_run(block.prefix)
            elif block.kind == "p" and not depth:
                form.first_line_indent = indent
            _add_runs(paragraph, block.runs)
            if block.kind in ("h3", "h4"):
                for run in paragraph.runs:
                    run.bold = True
                    run.font.size = Pt(12 if block.kind == "h3" else 11)


def record_docx(meeting: Meeting) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    meeting = _loaded(Meeting.objects.filter(pk=meeting.pk)).get()
    r = record_values(meeting)
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin = section.right_margin = Mm(22)
    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    normal.paragraph_format.space_after = Pt(3)
    document.core_properties.title = xml_safe(f"{RECORD_TITLE} {r['topic']}")

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(r["title"])
    run.bold = True
    run.font.size = Pt(16)

    table = document.add_table(rows=len(r["fields"]), cols=2)
    table.style = "Table Grid"
    for i, (label, value) in enumerate(r["fields"]):
        label_cell, value_cell = table.cell(i, 0), table.cell(i, 1)
        label_cell.width, value_cell.width = Mm(30), Mm(136)
        label_cell.paragraphs[0].add_run(label).bold = True
        value_cell.paragraphs[0].add_run(xml_safe(str(value)))

    def heading(text: str) -> None:
        p = document.add_paragraph()
        p.paragraph_format.space_before = Pt(9)
        h = p.add_run(text)
        h.bold = True
        h.font.size = Pt(12)

    heading("会议议程")
    for line in r["agenda"]:  # as typed: secretaries number their items themselves
        document.add_paragraph(xml_safe(line.strip()))
    if not r["agenda"]:
        document.add_paragraph("（无）")
    heading("会议内容")
    if r["minutes"].strip():
        _write_minutes(document, r["minutes"])
    else:
        document.add_paragraph("（未记录）")
    if r["votes"] or r["resolutions"]:
        heading("决议与表决")
        for number, res in enumerate(r["resolutions"], start=1):
            p = document.add_paragraph()
            p.add_run(xml_safe(f"{number}. {res['title']}")).bold = True
            document.add_paragraph(xml_safe(res["counts"]))
            outcome = document.add_paragraph()
            outcome.add_run("表决结果：")
            outcome.add_run(res["outcome"]).bold = True
        if not r["resolutions"]:
            document.add_paragraph("（无）")

    signature = document.add_paragraph()
    signature.paragraph_format.space_before = Pt(30)
    signature.add_run("主持人（签字）：＿＿＿＿＿＿＿＿　　　　记录人（签字）：＿＿＿＿＿＿＿＿")
    day = document.add_paragraph("＿＿＿＿年＿＿月＿＿日")
    day.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
