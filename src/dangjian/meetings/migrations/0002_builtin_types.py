"""The activity types of DOMAIN §6 (支部工作条例 2018), with their default frequencies."""

import decimal

from django.db import migrations

NAMES = {
    "general_meeting": "Branch general meeting",
    "committee_meeting": "Branch committee meeting",
    "group_meeting": "Party group meeting",
    "lecture": "Party lecture",
    "theme_day": "Theme Party day",
    "life_meeting": "Organisational-life meeting",
    "appraisal": "Democratic appraisal of members",
    "talks": "Heart-to-heart talks",
}


def add_types(apps, schema_editor):
    from dangjian.meetings import rules

    ActivityType = apps.get_model("meetings", "ActivityType")
    for order, rule in enumerate(rules.VERSIONS[0].activities, start=1):
        ActivityType.objects.get_or_create(
            code=rule.code,
            defaults={
                "name": NAMES[rule.code],
                "frequency": rule.frequency,
                "kinds": ",".join(sorted(rule.kinds)),
                "class_hours": decimal.Decimal(str(rule.class_hours)),
                "votes": rule.votes,
                "appraisal": rule.appraisal,
                "builtin": True,
                "order": order * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("meetings", "0001_initial")]
    operations = [migrations.RunPython(add_types, migrations.RunPython.noop)]
