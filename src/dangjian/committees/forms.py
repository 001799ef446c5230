"""Forms of the committee pages. They check the shape of what was typed; the rules (who may hold
office, whether the numbers of an election add up) are checked by the services, whose errors the
views put next to the right field."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.core.models import OrgKind

from .models import ElectionKind, Form, Position
from .services import MAX_SEATS, MAX_VOTERS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def position_choices(kind: str) -> list[tuple[str, str]]:
    """A Party group has a group leader; every other organisation has committee positions."""
    if kind == OrgKind.GROUP:
        return [(Position.GROUP_LEADER.value, Position.GROUP_LEADER.label)]
    return [(value, label) for value, label in Position.choices if value != Position.GROUP_LEADER]


class TermForm(forms.Form):
    form = forms.ChoiceField(label=_("form"), choices=Form.choices)
    elected_on = forms.DateField(label=_("elected on"), widget=DATE)


class AppointForm(forms.Form):
    member = forms.IntegerField(label=_("member"), min_value=1, widget=forms.Select)
    position = forms.ChoiceField(label=_("position"), choices=Position.choices)
    started_on = forms.DateField(label=_("since"), widget=DATE, initial=timezone.localdate)
    reference = forms.CharField(label=_("document number"), max_length=64, required=False)

    def __init__(self, *args, kind: str = OrgKind.BRANCH, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].choices = position_choices(kind)
        self.fields["member"].error_messages["required"] = _("Choose the member.")


class EndOfficeForm(forms.Form):
    ended_on = forms.DateField(label=_("until"), widget=DATE, initial=timezone.localdate)
    reason = forms.CharField(label=_("reason for leaving"), max_length=128, required=False)


class ShiftForm(forms.Form):
    due_on = forms.DateField(label=_("re-election due on"), widget=DATE)
    reason = forms.CharField(label=_("reason for moving the date"), max_length=255)
    reference = forms.CharField(label=_("approval document"), max_length=64, required=False)


class ElectionForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=ElectionKind.choices)
    form = forms.ChoiceField(label=_("form"), choices=Form.choices)
    held_on = forms.DateField(label=_("held on"), widget=DATE)
    seats = forms.IntegerField(label=_("seats"), min_value=1, max_value=MAX_SEATS)
    voters_expected = forms.IntegerField(
        label=_("voters expected"), min_value=0, max_value=MAX_VOTERS
    )
    voters_present = forms.IntegerField(
        label=_("voters present"), min_value=0, max_value=MAX_VOTERS
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[("approve", _("Approve")), ("reject", _("Do not approve"))],
        widget=forms.RadioSelect,
    )
    decided_on = forms.DateField(label=_("approved on"), widget=DATE, initial=timezone.localdate)
    reference = forms.CharField(label=_("approval document"), max_length=64, required=False)
    note = forms.CharField(label=_("note"), max_length=255, required=False)


# Restructuring -------------------------------------------------------------------------------


class MergeForm(forms.Form):
    target = forms.TypedChoiceField(label=_("merge into"), coerce=int, choices=[])
    on = forms.DateField(label=_("date of the change"), widget=DATE, initial=timezone.localdate)

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—")] + [
            (o.pk, f"{o.name} ({o.code})") for o in targets
        ]


class SplitForm(forms.Form):
    code = forms.CharField(label=_("code of the new organisation"), max_length=32)
    name = forms.CharField(label=_("full name of the new organisation"), max_length=128)
    members = forms.TypedMultipleChoiceField(
        label=_("members who move"),
        coerce=int,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose the members who move to the new organisation.")},
    )
    on = forms.DateField(label=_("date of the change"), widget=DATE, initial=timezone.localdate)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(m.pk, m.name) for m in members]


class DissolveForm(forms.Form):
    move_members_to = forms.TypedChoiceField(
        label=_("members move to"), coerce=int, choices=[], required=False, empty_value=None
    )
    on = forms.DateField(label=_("dissolved on"), widget=DATE, initial=timezone.localdate)

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["move_members_to"].choices = [("", "—")] + [
            (o.pk, f"{o.name} ({o.code})") for o in targets
        ]
