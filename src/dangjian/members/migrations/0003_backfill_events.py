"""Give every member recorded before the timeline existed its admission (and becoming full)."""

from django.db import migrations


def backfill(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    StandingEvent = apps.get_model("members", "StandingEvent")
    batch = []
    members = Member.objects.exclude(events__isnull=False).values_list(
        "id", "organization_id", "joined_on", "full_on"
    )
    for pk, org_id, joined_on, full_on in members.iterator(chunk_size=2000):
        batch.append(
            StandingEvent(
                member_id=pk, kind="admitted", occurred_on=joined_on, organization_id=org_id
            )
        )
        if full_on:
            batch.append(StandingEvent(member_id=pk, kind="became_full", occurred_on=full_on))
        if len(batch) >= 5000:
            StandingEvent.objects.bulk_create(batch)
            batch = []
    StandingEvent.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("members", "0002_full_record")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
