"""Messy rosters as people really send them, written to real files (openpyxl and csv)."""

import csv
import datetime
import struct

from tests.idnumbers import make_id

HEADERS = [
    "序号",
    "姓名",
    "性别",
    "民族",
    "身份证号",
    "出生年月",
    "学历",
    "人员类别",
    "入党时间",
    "转正时间",
    "手机号码",
    "备注",
]


def unique_id(n: int, sex: int = 1) -> tuple[str, str]:
    """A different valid ID number for every n (up to millions), with its birth date."""
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=n % 18000)
    region = f"{370923 + n // 18000 % 500:06d}"
    return make_id(birth, sex, region=region, seq=n // 9000000), birth.isoformat()


def good_row(n: int, *, birth=None, sex=1, joined="2010-07-01", full="2011-07-01"):
    """One clean row in the shape of HEADERS (values as a careful user types them)."""
    number, born = unique_id(n, sex)
    if birth is not None:
        number, born = make_id(birth, sex, seq=n), birth
    birth = born
    return [
        n,
        f"党员{n}",
        "男" if sex == 1 else "女",
        "汉族",
        number,
        birth,
        "本科",
        "正式党员" if full else "预备党员",
        joined,
        full or "",
        f"139{n:08d}",
        "",
    ]


def write_xlsx(
    path, rows, headers=HEADERS, *, title="某某支部党员花名册", notes=True, blank_every=0
):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        sheet.append([])
    sheet.append(headers)
    for i, row in enumerate(rows, 1):
        sheet.append(row)
        if blank_every and i % blank_every == 0:
            sheet.append([])
    if notes:
        sheet.append([])
        sheet.append(["填表说明：1. 身份证号请按文本格式填写；2. 日期写作 2019.07.01。"])
        sheet.append(["2. 人员类别填正式党员或预备党员"])
    book.save(path)
    return path


def write_csv(path, rows, headers=HEADERS, *, encoding="utf-8-sig", delimiter=","):
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def fake_encrypted_xlsx(path):
    """A Compound File with the EncryptionInfo and EncryptedPackage streams that Office writes
    for a password-protected .xlsx (the streams' content is filler)."""
    sector = 512
    free, end, fat_sect, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    stream_sectors = 8  # 4096 bytes each: above the mini-stream cutoff
    header = bytearray(sector)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)
    struct.pack_into("<I", header, 60, end)  # no mini FAT
    struct.pack_into("<I", header, 68, end)  # no DIFAT sectors
    difat = [0] + [free] * 108
    struct.pack_into("<109I", header, 76, *difat)
    fat = [fat_sect, end]
    for first in (2, 2 + stream_sectors):
        fat += [first + i + 1 for i in range(stream_sectors - 1)] + [end]
    fat += [free] * (128 - len(fat))
    fat_bytes = struct.pack("<128I", *fat)

    def entry(name, kind, child=nostream, right=nostream, start=end, size=0):
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, nostream, right, child)
        struct.pack_into("<IQ", raw, 116, start, size)
        return bytes(raw)

    directory = (
        entry("Root Entry", 5, child=1)
        + entry("EncryptionInfo", 2, right=2, start=2, size=4096)
        + entry("EncryptedPackage", 2, start=2 + stream_sectors, size=4096)
        + bytes(128)
    )
    body = bytes(header) + fat_bytes + directory + b"\x01" * (2 * stream_sectors * sector)
    with open(path, "wb") as fh:
        fh.write(body)
    return path


def tiny_png(path):
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    with open(path, "wb") as fh:
        fh.write(png)
    return path


def as_date(text):
    return datetime.date.fromisoformat(text)
