# The reminder sweeps look notifications up by key (whoever they were sent to): an index of its
# own, since notification_once leads with the user.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_notification"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["key"], name="notification_key"),
        ),
    ]
