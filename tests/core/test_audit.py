"""The audit log: every change records who, when, from where, what, and the values before and
after; the log is append-only (in the code and in the database) and scoped like everything else."""

import datetime
import io
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from dangjian.core import context, services
from dangjian.core.models import AuditEvent, Organization, RoleAssignment, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def last_event(action: str, obj=None) -> AuditEvent:
    events = AuditEvent.objects.filter(action=action)
    if obj is not None:
        events = events.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return events.order_by("-id").first()


def fresh(org):
    return Organization.objects.get(pk=org.pk)


# Each service writes its event ---------------------------------------------------------------


def test_org_create_records_the_new_values(admin, tree):
    org = services.create_organization(
        actor=admin, parent=tree["branch_a"], code="G02", name="第二党小组", kind="group"
    )
    event = last_event("org.create", org)
    assert event.before is None
    assert event.after["code"] == "G02"
    assert event.after["name"] == "第二党小组"
    assert event.after["kind"] == "group"
    assert event.after["path"] == fresh(org).path
    assert (event.user_id, event.user_label) == (admin.pk, "root")
    assert event.org_path == fresh(org).path
    assert event.object_label == "第二党小组"


def test_org_update_records_only_the_changed_fields(admin, tree):
    a = tree["branch_a"]
    services.update_organization(
        actor=admin, org=a, name="东街社区第一党支部", contact_person="张丽", code="B01"
    )
    event = last_event("org.update", a)
    assert event.before == {"name": "东街社区党支部", "contact_person": ""}
    assert event.after == {"name": "东街社区第一党支部", "contact_person": "张丽"}


def test_an_update_that_changes_nothing_records_nothing(admin, tree):
    count = AuditEvent.objects.count()
    services.update_organization(actor=admin, org=tree["branch_a"], name="东街社区党支部")
    assert AuditEvent.objects.count() == count


def test_org_move_records_old_and_new_place(admin, tree):
    a, town, other = tree["branch_a"], tree["town"], tree["other_town"]
    old_path = a.path
    services.move_organization(actor=admin, org=a, new_parent=other)
    event = last_event("org.move", a)
    assert (event.before["parent"], event.after["parent"]) == (town.pk, other.pk)
    assert (event.before["path"], event.after["path"]) == (old_path, fresh(a).path)


def test_org_dissolve_records_status_and_date(admin, tree):
    day = timezone.localdate() - datetime.timedelta(days=1)
    services.dissolve_organization(actor=admin, org=tree["branch_b"], on=day)
    event = last_event("org.dissolve", tree["branch_b"])
    assert event.before == {"status": "active", "dissolved_on": None}
    assert event.after == {"status": "dissolved", "dissolved_on": day.isoformat()}


def test_role_assign_and_revoke_are_recorded_and_survive_the_assignment(people, tree, make_user):
    carol = make_user("carol")
    oscar = people["oscar"]
    assignment = services.assign_role(actor=oscar, user=carol, org=tree["branch_a"], role="member")
    pk = assignment.pk
    expected = {"user": "carol", "organization": "B01", "role": "member"}
    assigned = last_event("role.assign", assignment)
    assert (assigned.before, assigned.after) == (None, expected)
    assert assigned.org_path == tree["branch_a"].path

    services.revoke_role(actor=oscar, assignment=assignment)
    assert not RoleAssignment.objects.filter(pk=pk).exists()
    events = AuditEvent.objects.filter(object_type="core.roleassignment", object_id=str(pk))
    assert sorted(events.values_list("action", flat=True)) == ["role.assign", "role.revoke"]
    revoked = events.get(action="role.revoke")
    assert (revoked.before, revoked.after) == (expected, None)
    assert revoked.user_label == "oscar"


def test_token_create_and_revoke_are_recorded_without_the_secret(people):
    alice = people["alice"]
    token, secret = services.create_api_token(actor=alice, name="手机", days=30)
    created = last_event("token.create", token)
    assert created.after["name"] == "手机"
    assert created.after["expires_at"] == token.expires_at.isoformat()
    services.revoke_api_token(actor=alice, token=token)
    revoked = last_event("token.revoke", token)
    assert revoked.after["revoked_at"]
    for event in (created, revoked):
        assert secret not in str(event.before) + str(event.after) + event.object_label


def test_user_create_is_recorded_without_the_password(admin):
    user = services.create_user(actor=admin, username="erin", password="a-long-enough-pass")
    event = last_event("user.create", user)
    assert event.after == {"username": "erin", "display_name": "", "superuser": False}
    assert "a-long-enough-pass" not in str(event.after)
    assert user.password not in str(event.after)


# Who, from where ------------------------------------------------------------------------------


def test_a_page_post_records_request_id_and_ip(people, tree, client_for):
    c = client_for(people["alice"])
    response = c.post(
        reverse("core:org_create", args=[tree["branch_a"].pk]),
        {"code": "G02", "name": "第二党小组", "kind": "group", "unit_type": "other"},
        REMOTE_ADDR="10.20.30.40",
        HTTP_X_REQUEST_ID="req-abc-12345",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-abc-12345"
    event = AuditEvent.objects.get(action="org.create", after__code="G02")
    assert (event.request_id, event.ip) == ("req-abc-12345", "10.20.30.40")
    assert (event.user_id, event.user_label) == (people["alice"].pk, "alice")


@pytest.mark.parametrize(
    "given", ["", "short", "has space in it", "x" * 65, "<script>alert</script>"]
)
def test_an_unusable_request_id_is_replaced(people, tree, client_for, given):
    c = client_for(people["alice"])
    response = c.post(
        reverse("core:org_edit", args=[tree["branch_a"].pk]),
        {"code": "B01", "name": "东街支部", "kind": "branch", "unit_type": "other"},
        HTTP_X_REQUEST_ID=given,
    )
    assert response.status_code == 302
    event = last_event("org.update", tree["branch_a"])
    assert event.request_id == response["X-Request-ID"]
    assert event.request_id != given and len(event.request_id) >= 8


def test_each_request_gets_its_own_id(people, tree, client_for):
    c = client_for(people["alice"])
    url = reverse("core:org_edit", args=[tree["branch_a"].pk])
    base = {"code": "B01", "kind": "branch", "unit_type": "other"}
    c.post(url, base | {"name": "一"})
    c.post(url, base | {"name": "二"})
    ids = list(AuditEvent.objects.filter(action="org.update").values_list("request_id", flat=True))
    assert len(ids) == 2 and ids[0] != ids[1]


# Survives the object ------------------------------------------------------------------------


def test_events_survive_the_deletion_of_their_user(admin, make_user, tree):
    carol = make_user("carol")
    services.assign_role(actor=admin, user=carol, org=tree["town"], role="org_admin")
    services.create_organization(
        actor=carol, parent=tree["town"], code="B03", name="南街党支部", kind="branch"
    )
    carol_pk = carol.pk
    carol.delete()
    assert not User.objects.filter(pk=carol_pk).exists()
    event = AuditEvent.objects.get(action="org.create", after__code="B03")
    assert (event.user_id, event.user_label) == (carol_pk, "carol")
    # The assignment went with the account; its event did not.
    assert AuditEvent.objects.filter(action="role.assign", after__user="carol").exists()


# A moved organisation's history stays where it happened -------------------------------------


@pytest.mark.parametrize("how", ["created", "moved in"])
def test_a_path_freed_by_a_move_is_not_handed_out_again(admin, tree, make_user, how):
    """The log keeps the paths things had (it is append-only). If branch B's old path went to a
    newcomer, the newcomer's secretary would read B's history."""
    b = tree["branch_b"]
    services.update_organization(actor=admin, org=b, contact_phone="0571-1234567")
    old_path = b.path
    services.move_organization(actor=admin, org=b, new_parent=tree["other_town"])
    town = fresh(tree["town"])
    if how == "created":
        newcomer = services.create_organization(
            actor=admin, parent=town, code="B09", name="新支部", kind="branch"
        )
    else:
        newcomer = services.create_organization(
            actor=admin, parent=tree["other_town"], code="B09", name="新支部", kind="branch"
        )
        services.move_organization(actor=admin, org=newcomer, new_parent=town)
    newcomer = fresh(newcomer)
    assert newcomer.path != old_path
    assert newcomer.path.startswith(town.path) and newcomer.depth == town.depth + 1

    carol = make_user("carol")
    services.assign_role(actor=admin, user=carol, org=newcomer, role="secretary")
    from dangjian.core import selectors

    seen = selectors.audit_events(User.objects.get(pk=carol.pk))
    assert not seen.filter(object_id=str(b.pk), object_type="core.organization").exists()


def test_the_first_child_of_a_leaf_does_not_inherit_a_moved_childs_history(admin, tree, make_user):
    group = tree["group_a"]
    old_path = group.path
    services.move_organization(actor=admin, org=group, new_parent=tree["branch_b"])
    assert fresh(tree["branch_a"]).numchild == 0
    newcomer = services.create_organization(
        actor=admin, parent=fresh(tree["branch_a"]), code="G09", name="新小组", kind="group"
    )
    assert fresh(newcomer).path != old_path
    assert fresh(tree["branch_a"]).numchild == 1


# Append-only ----------------------------------------------------------------------------------


@pytest.fixture
def event(admin, tree):
    return last_event("org.create", tree["branch_a"])


def test_saving_an_existing_event_is_refused(event):
    event.action = "org.forged"
    with pytest.raises(TypeError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "org.create"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(TypeError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_and_delete_are_refused(event):
    count = AuditEvent.objects.count()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="org.forged")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.get(pk=event.pk).action == "org.create"


def test_the_database_refuses_a_raw_update(event):
    with pytest.raises(Exception, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_auditevent SET action = %s WHERE id = %s", ["org.forged", event.pk]
            )
    assert AuditEvent.objects.get(pk=event.pk).action == "org.create"


def test_a_bulk_or_raw_delete_is_refused(event):
    # PostgreSQL refuses a raw DELETE by trigger. SQLite keeps only the UPDATE trigger (Django
    # flushes SQLite test databases with DELETE), so there the model and queryset refuse.
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
    else:
        with pytest.raises(TypeError, match="append-only"):
            AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# The audit page: filters ----------------------------------------------------------------------


def listed(response) -> list[AuditEvent]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


@pytest.fixture
def history(people, tree, make_user):
    """A few changes by different people in different places."""
    oscar, alice, bob = people["oscar"], people["alice"], people["bob"]
    services.update_organization(actor=alice, org=tree["branch_a"], short_name="东街")
    services.update_organization(actor=alice, org=tree["group_a"], short_name="一组")
    services.update_organization(actor=bob, org=tree["branch_b"], short_name="西街")
    services.update_organization(actor=oscar, org=tree["town"], short_name="城关")
    carol = make_user("carol")
    services.assign_role(actor=oscar, user=carol, org=tree["branch_a"], role="member")
    return {"carol": carol}


def test_filter_by_user(admin, history, client_for):
    events = listed(client_for(admin).get(reverse("core:audit_list"), {"user": "ALICE"}))
    assert {e.user_label for e in events} == {"alice"}
    assert len(events) == 2


def test_filter_by_organisation_subtree(admin, history, tree, client_for):
    events = listed(client_for(admin).get(reverse("core:audit_list"), {"org": "B01"}))
    assert events
    assert all(e.org_path.startswith(tree["branch_a"].path) for e in events)
    labels = {e.object_label for e in events}
    assert {"东街社区党支部", "第一党小组"} <= labels
    assert "西街社区党支部" not in labels


def test_filter_by_an_unknown_organisation_shows_nothing(admin, history, client_for):
    assert listed(client_for(admin).get(reverse("core:audit_list"), {"org": "NOPE"})) == []


def test_filter_by_object_type_and_action(admin, history, client_for):
    c = client_for(admin)
    roles = listed(c.get(reverse("core:audit_list"), {"object_type": "core.roleassignment"}))
    assert roles and {e.object_type for e in roles} == {"core.roleassignment"}
    updates = listed(c.get(reverse("core:audit_list"), {"action": "org.update"}))
    assert len(updates) == 4 and {e.action for e in updates} == {"org.update"}


def test_filter_by_date_range(admin, tree, client_for):
    tz = timezone.get_current_timezone()
    for day in (1, 10, 20):
        AuditEvent.objects.create(
            at=datetime.datetime(2024, 3, day, 23, 30, tzinfo=tz),
            request_id=f"old-{day}",
            action="org.update",
            object_type="core.organization",
            object_id=str(tree["branch_a"].pk),
            org_path=tree["branch_a"].path,
        )
    events = listed(
        client_for(admin).get(
            reverse("core:audit_list"), {"since": "2024-03-10", "until": "2024-03-20"}
        )
    )
    # Both ends are whole days in Asia/Shanghai.
    assert sorted(e.request_id for e in events) == ["old-10", "old-20"]


# Scope of the audit log ----------------------------------------------------------------------


def test_oscar_sees_the_events_of_his_subtree_only(people, history, tree, client_for):
    events = listed(client_for(people["oscar"]).get(reverse("core:audit_list")))
    town = tree["town"].path
    assert events
    assert all(e.org_path.startswith(town) for e in events)
    # Accounts and the creation of the county above him are not his to see.
    assert not any(e.action == "user.create" for e in events)
    assert not any(e.object_label == "某某县委" for e in events)


def test_bob_does_not_see_branch_a(people, history, tree, client_for):
    events = listed(client_for(people["bob"]).get(reverse("core:audit_list")))
    assert events
    assert all(e.org_path.startswith(tree["branch_b"].path) for e in events)
    assert not any(e.org_path.startswith(tree["branch_a"].path) for e in events)


def test_bob_filtering_by_branch_a_gets_nothing(people, history, client_for):
    assert listed(client_for(people["bob"]).get(reverse("core:audit_list"), {"org": "B01"})) == []


def test_a_member_has_no_audit_log(people, history, client_for):
    response = client_for(history["carol"]).get(reverse("core:audit_list"))
    assert response.status_code == 404


# Export (a background job: started by a POST, run by the worker, downloaded by its owner) -----


def export(client, **filters):
    """Start the export as the page does, run the job as the worker would, download the file."""
    from dangjian.core import jobs
    from dangjian.core.models import Job

    known = set(Job.objects.values_list("pk", flat=True))
    url = reverse("core:audit_export")
    if filters:
        url += "?" + urlencode(filters)
    response = client.post(url)
    assert response.status_code == 302, response.status_code
    job = Job.objects.exclude(pk__in=known).get()
    assert jobs.execute(str(job.pk))
    job.refresh_from_db()
    assert job.status == "done", job.message
    return client.get(reverse("core:job_download", args=[job.pk]))


def exported_rows(response) -> list[tuple]:
    from openpyxl import load_workbook

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(workbook.active.iter_rows(values_only=True))


def test_export_has_one_row_per_event_and_neutralises_formulas(admin, tree, client_for):
    services.create_organization(
        actor=admin,
        parent=tree["town"],
        code="B03",
        name='=HYPERLINK("http://x","点我")',
        kind="branch",
    )
    header, *body = exported_rows(export(client_for(admin), action="org.create"))
    assert len(header) == 10
    assert len(body) == AuditEvent.objects.filter(action="org.create").count() == 7
    labels = [row[7] for row in body]
    assert '\'=HYPERLINK("http://x","点我")' in labels
    assert not any(isinstance(c, str) and c.startswith("=") for row in body for c in row)


def test_export_cells_are_text_not_formulas(admin, tree, client_for):
    from openpyxl import load_workbook

    services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="=1+2", kind="branch"
    )
    response = export(client_for(admin), org="B03")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [row[7] for row in sheet.iter_rows(min_row=2)]
    assert cells and all(cell.data_type == "s" for cell in cells)
    assert [cell.value for cell in cells] == ["'=1+2"]


def test_export_applies_the_date_filter(admin, tree, client_for):
    tz = timezone.get_current_timezone()
    for day in (1, 10, 20):
        AuditEvent.objects.create(
            at=datetime.datetime(2024, 3, day, 12, 0, tzinfo=tz),
            request_id=f"old-{day}",
            action="org.update",
            object_type="core.organization",
            object_id="1",
        )
    rows = exported_rows(export(client_for(admin), since="2024-03-05", until="2024-03-10"))
    assert [row[3] for row in rows[1:]] == ["old-10"]


def test_the_export_is_itself_recorded(admin, tree, client_for):
    export(client_for(admin), action="org.create")
    event = last_event("audit.export")
    assert event.user_label == "root"
    assert event.after == {"filters": {"action": "org.create"}}


def test_oscars_export_is_scoped(people, history, tree, client_for):
    header, *body = exported_rows(export(client_for(people["oscar"])))
    visible = AuditEvent.objects.filter(org_path__startswith=tree["town"].path)
    assert len(body) == visible.count() > 0
    assert {row[3] for row in body} <= set(visible.values_list("request_id", flat=True))
    assert "某某县委" not in {row[7] for row in body}
    assert "user.create" not in {row[4] for row in body}


def test_a_secretary_may_not_export(people, history, client_for):
    from dangjian.core.models import Job

    count = AuditEvent.objects.count()
    response = client_for(people["alice"]).post(reverse("core:audit_export"))
    assert response.status_code == 404
    assert AuditEvent.objects.count() == count
    assert not Job.objects.exists()


def test_an_auditor_may_export_within_his_scope(people, tree, make_user, admin, client_for):
    dan = make_user("dan")
    services.assign_role(actor=admin, user=dan, org=tree["branch_b"], role="auditor")
    services.update_organization(actor=people["alice"], org=tree["branch_a"], short_name="东街")
    rows = exported_rows(export(client_for(dan)))
    assert all(row[7] != "东街社区党支部" for row in rows[1:])
    assert any(row[7] == "西街社区党支部" for row in rows[1:])


def test_nobody_downloads_another_persons_export(people, admin, tree, client_for):
    from dangjian.core.models import Job

    client_for(admin).post(reverse("core:audit_export"))
    job = Job.objects.get()
    assert (
        client_for(people["oscar"]).get(reverse("core:job_download", args=[job.pk])).status_code
        == 404
    )


def test_a_context_started_by_a_command_groups_its_events(admin, tree):
    token = context.begin(request_id="cli-run-0001", ip=None)
    try:
        services.update_organization(actor=admin, org=tree["branch_a"], short_name="东街")
        services.update_organization(actor=admin, org=tree["branch_b"], short_name="西街")
    finally:
        context.end(token)
    events = AuditEvent.objects.filter(request_id="cli-run-0001")
    assert events.count() == 2 and {e.ip for e in events} == {None}
