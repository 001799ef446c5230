"""Submitting, routing, handling, answering and rating requests through the services."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext

from dangjian.core import crypto
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, Notification
from dangjian.core.ratelimit import RateLimited
from dangjian.feedback import selectors, services
from dangjian.feedback.models import Entry, EntryKind, PublicRequest, Status


def fails(call) -> tuple[str, str | None]:
    with pytest.raises(ValidationFailed) as caught:
        call()
    return caught.value.code, caught.value.field


def test_a_request_is_stored_with_a_number_a_sealed_contact_and_deadlines(submit, tree):
    req, code = submit(name="王大妈", phone="138 1234 5678", consent_contact=True)
    assert req.organization == tree["branch_a"] and req.routed_by == "desk"
    assert req.number[:8].isdigit() and len(code) == 6
    assert req.check_hash != code and code not in req.check_hash
    assert "王大妈" not in req.name_encrypted and crypto.decrypt(req.name_encrypted) == "王大妈"
    assert crypto.decrypt(req.phone_encrypted) == "13812345678"
    assert req.submitted_at < req.ack_due_at <= req.answer_due_at
    assert req.deadline_rule == "2026"
    assert Entry.objects.filter(request=req, kind=EntryKind.SUBMITTED).count() == 1
    event = AuditEvent.objects.get(action="feedback.submit")
    assert "王大妈" not in str(event.after) and "13812345678" not in str(event.after)


def test_the_secretary_of_the_branch_hears_of_it(submit, people):
    req, _code = submit()
    assert Notification.objects.filter(user=people["alice"], url__contains=str(req.pk)).exists()
    assert not Notification.objects.filter(user=people["bob"]).exists()


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"text": ""}, "required", "text"),
        ({"text": "灯坏"}, "too_short", "text"),
        ({"text": "很" * 2001}, "too_long", "text"),
        ({"text": "路灯\x00坏了好几天"}, "control_characters", "text"),
        ({"category": "spam"}, "invalid_category", "category"),
        ({"phone": "12345"}, "invalid_phone", "phone"),
        ({"phone": "1381234567x"}, "invalid_phone", "phone"),
        ({"email": "not-an-address"}, "invalid_email", "email"),
        ({"consent_contact": True}, "contact_missing", "phone"),
        ({"name": "名" * 51}, "too_long", "name"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(submit, values, code, field):
    assert fails(lambda: submit(**values)) == (code, field)
    assert PublicRequest.objects.count() == 0


@pytest.mark.parametrize("phone", ["13812345678", "+86 138-1234-5678", "0371-12345678"])
def test_phone_numbers_as_people_write_them(submit, phone):
    req, _c = submit(phone=phone)
    assert crypto.decrypt(req.phone_encrypted).replace("-", "").endswith("12345678")


def test_keyword_rules_route_within_the_desks_place(submit, tree, admin):
    services.save_routing_rule(actor=admin, organization=tree["group_a"], keywords="路灯 照明")
    services.save_routing_rule(actor=admin, organization=tree["branch_b"], keywords="路灯")
    req, _c = submit()  # at branch A's desk: branch B's rule lies outside the place
    assert req.organization == tree["group_a"] and req.routed_by == "rule"
    assert "路灯" in Entry.objects.get(request=req, kind=EntryKind.SUBMITTED).text
    at_town, _c = submit(desk="town", text="西街的垃圾没人清理，路灯也坏了")
    assert at_town.organization in (tree["group_a"], tree["branch_b"])


def test_the_town_desk_routes_by_keywords_to_a_branch(submit, tree, admin):
    services.save_routing_rule(actor=admin, organization=tree["branch_b"], keywords="西街 垃圾")
    req, _c = submit(desk="town", text="西街菜市场门口垃圾堆了三天没人清理")
    assert req.organization == tree["branch_b"]


def test_a_chosen_organisation_wins_over_the_rules(submit, tree, admin):
    services.save_routing_rule(actor=admin, organization=tree["group_a"], keywords="路灯")
    req, _c = submit(organization=tree["branch_b"])
    assert req.organization == tree["branch_b"] and req.routed_by == "chosen"


def test_the_whole_path_accept_answer_rate(submit, people):
    alice = people["alice"]
    req, code = submit(phone="13812345678", consent_contact=True)
    found = services.find_for_public(req.number, code.lower(), ip="10.0.0.2")
    assert found.pk == req.pk
    req = services.accept(actor=alice, req=req)
    assert req.status == Status.ACCEPTED and req.acknowledged_at is not None
    req = services.answer(actor=alice, req=req, reply="已联系供电所，今天下午修复。")
    assert req.status == Status.ANSWERED and req.replied_by == "东街社区党支部"
    req = services.rate(req=req, rating=5, comment="很快，谢谢")
    assert req.rating == 5
    with pytest.raises(Conflict):
        services.rate(req=req, rating=4)
    req = services.close(actor=alice, req=req)
    assert req.status == Status.CLOSED
    kinds = [e.kind for e in selectors.history(req, public=True)]
    assert kinds == ["submitted", "accepted", "answered", "rated", "closed"]


def test_an_unsatisfied_rating_reopens_once(submit, people):
    alice = people["alice"]
    req, _code = submit()
    req = services.answer(actor=alice, req=req, reply="已转交相关部门。")
    assert fails(lambda: services.rate(req=req, rating=4, reopen=True)) == (
        "reopen_refused",
        "reopen",
    )
    req = services.rate(req=req, rating=1, comment="没解决", reopen=True)
    assert req.status == Status.IN_PROGRESS and req.reopened == 1
    assert (
        Notification.objects.filter(
            user=alice, key__startswith=f"feedback:{req.pk}:reopened"
        ).count()
        == 1
    )
    req = services.answer(actor=alice, req=req, reply="今天已修好。")
    with pytest.raises(ValidationFailed):
        services.rate(req=req, rating=1, reopen=True)  # once only
    req.refresh_from_db()
    assert req.status == Status.ANSWERED and req.rating == 1


@pytest.mark.parametrize("bad", ["number", "code", "both"])
def test_a_wrong_number_or_code_gets_one_answer(submit, bad):
    req, code = submit()
    number = "20000101-000000" if bad in ("number", "both") else req.number
    given = "ZZZZZZ" if bad in ("code", "both") else code
    with pytest.raises(NotFound) as caught:
        services.find_for_public(number, given, ip="10.0.0.3")
    assert str(caught.value) == gettext("No request matches this tracking number and check code.")


def test_look_ups_are_limited_per_address(submit):
    req, code = submit()
    for i in range(services.LOOKUPS_PER_IP[0]):
        with pytest.raises(NotFound):
            services.find_for_public(f"20000101-{i:06d}", "WRONG2", ip="10.9.9.9")
    with pytest.raises(RateLimited):
        services.find_for_public(req.number, code, ip="10.9.9.9")


def test_wrong_codes_are_limited_per_number_from_any_address(submit):
    req, code = submit()
    for i in range(services.FAILURES_PER_NUMBER[0]):
        with pytest.raises(NotFound):
            services.find_for_public(req.number, "WRONG2", ip=f"10.8.0.{i}")
    with pytest.raises(RateLimited):  # even the right code, until the window ends
        services.find_for_public(req.number, code, ip="10.8.1.1")
    other, other_code = submit(ip="10.2.2.2")
    assert services.find_for_public(other.number, other_code, ip="10.8.1.1").pk == other.pk


def test_an_unknown_number_is_limited_like_a_known_one(submit):
    for i in range(services.FAILURES_PER_NUMBER[0]):
        with pytest.raises(NotFound):
            services.find_for_public("20000101-000001", "WRONG2", ip=f"10.6.0.{i}")
    with pytest.raises(RateLimited):
        services.find_for_public("20000101-000001", "WRONG2", ip="10.6.1.1")


def test_check_codes_survive_a_new_data_key(submit, settings):
    req, code = submit()
    settings.DATA_KEY = "another-data-key-of-at-least-32-characters!"
    assert services.find_for_public(req.number, code).pk == req.pk
    assert code not in req.check_hash


def test_submissions_are_limited_per_address_and_per_phone(submit):
    for i in range(services.SUBMIT_PER_PHONE[0]):
        submit(phone="13912345678", ip=f"10.1.0.{i}")
    with pytest.raises(RateLimited):
        submit(phone="13912345678", ip="10.1.1.1")
    for _ in range(services.SUBMIT_PER_IP[0] - 1):
        submit(ip="10.1.0.0")
    with pytest.raises(RateLimited):
        submit(ip="10.1.0.0")
    assert (
        PublicRequest.objects.count()
        == services.SUBMIT_PER_PHONE[0] + services.SUBMIT_PER_IP[0] - 1
    )


def test_forward_moves_it_with_a_reason_and_tells_the_receiver(submit, people, tree):
    alice, bob = people["alice"], people["bob"]
    req, _code = submit()
    assert fails(
        lambda: services.forward(actor=alice, req=req, to_org=tree["branch_b"], reason="")
    ) == (
        "required",
        "reason",
    )
    req = services.forward(actor=alice, req=req, to_org=tree["branch_b"], reason="属西街管辖")
    assert req.organization == tree["branch_b"] and req.org_path == tree["branch_b"].path
    assert Notification.objects.filter(user=bob, url__contains=str(req.pk)).exists()
    with pytest.raises(NotFound):
        selectors.get_request(alice, req.pk)  # it left her scope
    assert selectors.get_request(bob, req.pk).pk == req.pk


def test_staff_actions_as_three_people(submit, people, tree):
    alice, oscar, bob = people["alice"], people["oscar"], people["bob"]
    req, _code = submit()
    with pytest.raises(NotFound):
        services.accept(actor=bob, req=req)  # a sibling branch: does not exist for him
    with pytest.raises(NotFound):
        selectors.get_request(bob, req.pk)
    assert selectors.get_request(oscar, req.pk).pk == req.pk  # the township above sees it
    services.accept(actor=oscar, req=req)  # and may handle it
    services.add_note(actor=alice, req=req, text="已电话联系")
    assert [r.pk for r in selectors.inbox(alice)] == [req.pk]
    assert list(selectors.inbox(bob)) == []


def test_an_auditor_sees_but_may_not_handle(submit, tree, make_user, admin):
    from dangjian.core import services as core_services

    auditor = make_user("audrey")
    core_services.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    req, _code = submit()
    assert selectors.get_request(auditor, req.pk)
    with pytest.raises(Forbidden):
        services.answer(actor=auditor, req=req, reply="好的")


def test_contact_details_are_masked_unless_revealed(submit, people, tree, make_user, admin):
    from dangjian.core import services as core_services

    req, _code = submit(name="王大妈", phone="13812345678", email="wang@example.cn")
    shown = selectors.contact(people["alice"], req)
    assert shown == {
        "name": "王**",
        "phone": "138****5678",
        "email": "w***@example.cn",
        "masked": True,
        "may_reveal": True,
    }
    member = make_user("cm")
    core_services.assign_role(
        actor=admin, user=member, org=tree["branch_a"], role="committee_member"
    )
    assert selectors.contact(member, req, full=True)["masked"] is True
    with pytest.raises(Forbidden):
        services.reveal_contact(actor=member, req=req)
    full = services.reveal_contact(actor=people["alice"], req=req)
    assert full["phone"] == "13812345678"
    assert (
        AuditEvent.objects.filter(action="feedback.reveal", user_id=people["alice"].pk).count() == 1
    )


def test_merge_a_duplicate(submit, people):
    alice = people["alice"]
    first, _c = submit()
    second, code = submit(text="路灯又坏了，跟上次一样，请尽快修")
    second = services.merge(actor=alice, req=second, into=first, note="同一盏灯")
    assert second.status == Status.MERGED and second.merged_into_id == first.pk
    found = services.find_for_public(second.number, code)
    assert found.merged_into.number == first.number
    assert fails(lambda: services.merge(actor=alice, req=first, into=first)) == (
        "same_request",
        "into",
    )


def test_reject_needs_a_reason_and_final_states_refuse_more(submit, people):
    alice = people["alice"]
    req, _code = submit()
    assert fails(lambda: services.reject(actor=alice, req=req, reason=" ")) == (
        "required",
        "reason",
    )
    req = services.reject(actor=alice, req=req, reason="不属于受理范围")
    with pytest.raises(Conflict):
        services.answer(actor=alice, req=req, reply="好")
    with pytest.raises(Conflict):
        services.add_information(req=req, text="补充说明")


def test_the_person_adds_information_and_photos(submit, people, png_bytes):
    req, _code = submit()
    photo = SimpleUploadedFile("lamp.png", png_bytes, content_type="image/png")
    services.add_information(req=req, text="灯杆编号 DJ-0231", photo_files=[photo])
    assert req.photos.count() == 1
    assert Entry.objects.filter(request=req, kind=EntryKind.ADDED).count() == 1


def test_a_file_that_is_not_an_image_is_refused_and_nothing_stored(submit):
    fake = SimpleUploadedFile("lamp.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    assert fails(lambda: submit(photo_files=[fake])) == ("not_an_image", "photos")
    assert PublicRequest.objects.count() == 0


def test_deadlines_count_working_days(submit):
    from zoneinfo import ZoneInfo

    import time_machine

    from dangjian.core import workdays

    workdays.load_defaults()  # the 2026 holidays of the State Council
    # Friday 2026-09-25 is the Mid-Autumn holiday and 1–7 October National Day: a help request
    # submitted on Thursday 24 September is answered within 5 working days.
    with time_machine.travel(datetime.datetime(2026, 9, 24, 9, tzinfo=ZoneInfo("Asia/Shanghai"))):
        req, _code = submit()
    from django.utils import timezone

    assert timezone.localtime(req.ack_due_at).date() == datetime.date(2026, 9, 28)
    # 28, 29, 30 September, then 8, 9 October (1–7 off, 10 October a make-up Saturday)
    assert timezone.localtime(req.answer_due_at).date() == datetime.date(2026, 10, 9)


def test_rotating_the_data_key_reencrypts_submitters(submit, settings, tmp_path):
    from django.core.management import call_command

    settings.DATA_DIR = tmp_path
    settings.DATA_KEY = settings.DATA_KEY
    (tmp_path / "data_key").write_text(settings.DATA_KEY)
    req, _code = submit(name="王大妈", phone="13812345678", email="wang@example.cn")
    anonymous, _c = submit()
    sealed = req.phone_encrypted
    call_command("rotate_data_key", "--yes")
    req.refresh_from_db()
    assert req.phone_encrypted != sealed
    assert crypto.decrypt(req.phone_encrypted) == "13812345678"
    assert crypto.decrypt(req.name_encrypted) == "王大妈"
    assert crypto.decrypt(req.email_encrypted) == "wang@example.cn"
    assert req.phone_hash == crypto.keyed_hash("13812345678")
    anonymous.refresh_from_db()
    assert anonymous.phone_encrypted == "" and anonymous.name_encrypted == ""
    assert AuditEvent.objects.get(action="data_key.rotate").after["other_rows"] == 1


def test_additions_are_limited_per_address(submit):
    req, _code = submit()
    for i in range(services.ADDITIONS_PER_IP[0]):
        services.add_information(req=req, text=f"补充第{i}条", ip="10.7.7.7")
    with pytest.raises(RateLimited):
        services.add_information(req=req, text="再补充", ip="10.7.7.7")
    assert (
        Entry.objects.filter(request=req, kind=EntryKind.ADDED).count()
        == services.ADDITIONS_PER_IP[0]
    )


def test_the_public_history_hides_the_staffs_words(submit, people, tree):
    req, _code = submit()
    services.forward(actor=people["alice"], req=req, to_org=tree["branch_b"], reason="内部原因X")
    texts = [e.text for e in selectors.history(req, public=True)]
    assert "内部原因X" not in "".join(texts)
    assert "内部原因X" in "".join(e.text for e in selectors.history(req))


def test_featured_answers_hide_numbers_typed_into_the_text(submit, people):
    req, _code = submit(
        text="我家电话13812345678，身份证11010519491231002X，路灯坏了", allow_public=True
    )
    req = services.answer(actor=people["alice"], req=req, reply="已联系 wang@example.cn 处理")
    services.feature(actor=people["alice"], req=req, shown=True)
    [shown] = selectors.featured_answers()
    published = shown["text"] + shown["reply"]
    for secret in ("13812345678", "11010519491231002X", "wang@example.cn"):
        assert secret not in published
    assert "路灯坏了" in shown["text"]


def test_merging_back_and_forth_is_refused(submit, people):
    alice = people["alice"]
    a, _c = submit()
    b, _c = submit(text="同一盏路灯，第二次反映")
    services.merge(actor=alice, req=b, into=a)
    assert fails(lambda: services.merge(actor=alice, req=a, into=b)) == ("wrong_status", "into")


def test_the_person_of_a_merged_request_hears_the_answer(
    submit, people, smtp, django_capture_on_commit_callbacks
):
    a, _c = submit()
    b, _c = submit(text="同一盏路灯，第二次反映", email="li@example.cn", consent_contact=True)
    services.merge(actor=people["alice"], req=b, into=a)
    with django_capture_on_commit_callbacks(execute=True):
        services.answer(actor=people["alice"], req=a, reply="今天修好")
    [(_sender, to, mail)] = smtp.received
    assert to == ["li@example.cn"] and b.number in mail["Subject"]
    assert "今天修好" in mail.get_content()


def test_forwarding_lets_the_new_organisation_be_reminded(submit, people, tree):
    from django.utils import timezone

    req, _code = submit()
    PublicRequest.objects.filter(pk=req.pk).update(
        answer_due_at=timezone.now() + datetime.timedelta(hours=3)
    )
    assert services.claim_due_soon() == [req.pk]
    services.forward(actor=people["alice"], req=req, to_org=tree["branch_b"], reason="属西街")
    assert services.claim_due_soon() == [req.pk]
    assert Notification.objects.filter(user=people["bob"], key__contains=":soon:").count() == 1


def test_a_request_not_acknowledged_in_time_is_overdue(submit, people):
    from django.utils import timezone

    req, _code = submit()
    PublicRequest.objects.filter(pk=req.pk).update(
        ack_due_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert [r.pk for r in selectors.inbox(people["alice"], view="overdue")] == [req.pk]
    assert selectors.inbox_counts(people["alice"])["overdue"] == 1
    services.accept(actor=people["alice"], req=req)
    assert list(selectors.inbox(people["alice"], view="overdue")) == []


def test_two_people_drawing_the_same_number_both_get_in(submit, monkeypatch):
    from dangjian.feedback import rules

    draws = iter(["20261207-000001", "20261207-000001", "20261207-000002"])
    monkeypatch.setattr(rules, "tracking_number", lambda day: next(draws))
    first, _c = submit()
    second, _c = submit(text="另一件事：楼道灯也不亮了")
    assert (first.number, second.number) == ("20261207-000001", "20261207-000002")
    assert PublicRequest.objects.count() == 2
