"""Forms of the core pages. Validation that involves the database lives in the services; the forms
check shape and show the services' errors next to the right field."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import permissions
from .models import Organization, OrgKind, UnitType


class OrganizationForm(forms.Form):
    code = forms.CharField(label=_("code"), max_length=32)
    name = forms.CharField(label=_("full name"), max_length=128)
    short_name = forms.CharField(label=_("short name"), max_length=64, required=False)
    kind = forms.ChoiceField(label=_("kind"), choices=OrgKind.choices)
    unit_type = forms.ChoiceField(
        label=_("unit type"), choices=UnitType.choices, initial=UnitType.OTHER
    )
    established_on = forms.DateField(
        label=_("established on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    contact_person = forms.CharField(label=_("contact person"), max_length=64, required=False)
    contact_phone = forms.CharField(label=_("contact phone"), max_length=32, required=False)
    display_order = forms.IntegerField(label=_("display order"), initial=0, required=False)

    def __init__(self, *args, parent: Organization | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if parent is not None and not self.is_bound:
            from .models import ALLOWED_PARENT_KINDS

            allowed = [(k, v) for k, v in OrgKind.choices if parent.kind in ALLOWED_PARENT_KINDS[k]]
            if allowed:
                self.fields["kind"].choices = allowed

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["display_order"] = data.get("display_order") or 0
        return data


class MoveForm(forms.Form):
    parent_code = forms.CharField(label=_("code of the new parent organisation"), max_length=32)


class DissolveForm(forms.Form):
    on = forms.DateField(label=_("dissolved on"), widget=forms.DateInput(attrs={"type": "date"}))
    move_members_to = forms.CharField(
        label=_("code of the organisation that takes its members"), max_length=32, required=False
    )


class RoleAssignForm(forms.Form):
    username = forms.CharField(label=_("user name or mobile number"), max_length=150)
    role = forms.ChoiceField(label=_("role"), choices=permissions.role_choices())


class TokenForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=64)
    days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=3650, initial=90)


class AuditFilterForm(forms.Form):
    user = forms.CharField(label=_("user"), required=False)
    org = forms.CharField(label=_("organisation code (with its subtree)"), required=False)
    object_type = forms.CharField(label=_("object type"), required=False)
    object_id = forms.CharField(label=_("object id"), required=False)
    action = forms.CharField(label=_("action"), required=False)
    since = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
