"""Export → import with --update changes nothing (issue 3, item 8)."""

import datetime

from django.core.management import call_command

from dangjian.core.models import AuditEvent
from dangjian.members import services
from dangjian.members.columns import COLUMNS
from dangjian.members.models import FamilyMember, Member, StandingEvent


def snapshot():
    """Every stored value (ID and phone numbers decrypted: their nonces change on rewrite)."""
    skip = {"updated_at", "id_number_encrypted", "phone_encrypted"}
    fields = [f.attname for f in Member._meta.concrete_fields if f.name not in skip]
    rows = {}
    for member in Member.objects.all():
        values = {name: getattr(member, name) for name in fields}
        values["id_number"] = services.member_id_number(member)
        values["phone"] = services.member_phone(member)
        rows[member.pk] = values
    return rows, StandingEvent.objects.count(), FamilyMember.objects.count()


def test_export_then_import_with_update_changes_nothing(people, tree, roster, admin, tmp_path):
    zhang = roster["zhang"]
    services.update_member(
        actor=admin,
        member=zhang,
        data={
            "native_place": "山东泰安",
            "school": "山东大学 法学",
            "work_started_on": datetime.date(2007, 7, 1),
            "job_category": "05",
            "work_unit": "东街社区居委会 主任",
            "title": "=1+2",  # looks like a formula: exported neutralised, read back as typed
            "telephone": "0538-1234567",
            "home_address": "东街1号",
            "note": "第一行",
        },
    )
    out = tmp_path / "roster.xlsx"
    keys = ",".join(c.key for c in COLUMNS if c.importable)
    call_command(
        "export_members",
        "--org",
        "T01",
        "--columns",
        keys,
        "--full",
        "--user",
        "oscar",
        "--out",
        str(out),
        "--no-progress",
    )
    before = snapshot()
    updates_before = AuditEvent.objects.filter(action="member.update").count()

    call_command(
        "import_members",
        str(out),
        "--org",
        "B01",
        "--update",
        "--user",
        "oscar",
        "--no-progress",
    )

    after = snapshot()
    changed = {
        pk: {k: (v, after[0][pk][k]) for k, v in values.items() if after[0][pk][k] != v}
        for pk, values in before[0].items()
    }
    assert not any(changed.values()), changed
    assert after == before
    assert AuditEvent.objects.filter(action="member.update").count() == updates_before
    zhang.refresh_from_db()
    assert zhang.title == "=1+2"
