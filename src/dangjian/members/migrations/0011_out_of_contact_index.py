# The out-of-contact list of a subtree (transfers.selectors.out_of_contact) reads a partial
# index of the few active members out of contact, by path and date.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0010_party_probation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                condition=models.Q(("out_of_contact", True), ("status", "active")),
                fields=["org_path", "out_of_contact_since"],
                name="member_out_of_contact",
            ),
        ),
    ]
