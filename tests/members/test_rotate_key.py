"""Rotating the data key re-encrypts every ID and phone number; look-ups keep working."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dangjian.core import crypto
from dangjian.core.models import AuditEvent
from dangjian.members import selectors, services
from dangjian.members.models import Member


def test_rotation_reencrypts_and_lookups_still_work(people, roster, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.DATA_KEY = settings.DATA_KEY  # restored after the test by the fixture
    (tmp_path / "data_key").write_text(settings.DATA_KEY)
    old_key = settings.DATA_KEY
    zhang = roster["zhang"]
    number = services.member_id_number(zhang)
    before = dict(Member.objects.values_list("pk", "id_number_encrypted"))
    alice = people["alice"]
    old_mobile = alice.mobile_encrypted

    call_command("rotate_data_key", "--yes")

    assert settings.DATA_KEY != old_key
    assert (tmp_path / "data_key").read_text().strip() == settings.DATA_KEY
    assert (tmp_path / "data_key.old").read_text().strip() == old_key
    after = dict(Member.objects.values_list("pk", "id_number_encrypted"))
    assert all(after[pk] != before[pk] for pk in before)
    zhang.refresh_from_db()
    assert services.member_id_number(zhang) == number
    assert services.member_phone(zhang) == "13900001111"
    # the keyed hash changed with the key and search finds the member again
    assert zhang.id_number_hash == crypto.keyed_hash(number)
    found = Member.objects.filter(selectors.search_condition(number))
    assert list(found) == [zhang]
    alice.refresh_from_db()
    assert alice.mobile_encrypted != old_mobile and crypto.decrypt(alice.mobile_encrypted)
    assert AuditEvent.objects.filter(action="data_key.rotate").exists()


def test_a_short_key_is_refused_and_nothing_changes(roster, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    before = dict(Member.objects.values_list("pk", "id_number_encrypted"))
    with pytest.raises(CommandError, match="32 characters"):
        call_command("rotate_data_key", "--yes", "--key", "short")
    assert dict(Member.objects.values_list("pk", "id_number_encrypted")) == before
