"""Forms of the transfer pages. They check types; the rules (dates, targets, validity, states)
live in the services, whose errors come back onto the fields named here."""

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.members.forms import DateInput

from .models import State


def _today():
    return timezone.localdate()


_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def no_control_characters(value: str) -> None:
    """For text that goes to another app's service (the timeline's details), which the
    transfer services do not see: the same refusal as theirs."""
    if _CONTROL.search(value or ""):
        raise ValidationError(_("Remove the control characters."), code="control_characters")


def _date(label, *, required=True):
    return forms.DateField(label=label, required=required, initial=_today, widget=DateInput())


def _reason(label=None, *, required=False):
    return forms.CharField(label=label or _("reason"), max_length=255, required=required)


class TargetField(forms.IntegerField):
    """An organisation of the whole tree, chosen through the search (its id)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("receiving organisation"))
        kwargs.setdefault("widget", forms.HiddenInput())
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**62)
        kwargs.setdefault("error_messages", {"required": _("Choose the receiving organisation.")})
        super().__init__(**kwargs)


class StartTransferForm(forms.Form):
    to_org = TargetField()
    started_on = _date(_("date"))
    reason = _reason()


class GroupTransferForm(forms.Form):
    members = forms.MultipleChoiceField(
        label=_("members"),
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose the members.")},
    )
    to_org = TargetField()
    started_on = _date(_("date"))
    reason = _reason()

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(str(m.pk), m.name) for m in members]


class AcceptForm(forms.Form):
    decided_on = _date(_("date of acceptance"))


class ReturnForm(forms.Form):
    reason = _reason(_("reason for returning"), required=True)


class CancelForm(forms.Form):
    reason = _reason()


class IssueLetterForm(forms.Form):
    counterpart = forms.CharField(label=_("receiving organisation (outside)"), max_length=128)
    addressee = forms.CharField(
        label=_("addressee"),
        max_length=128,
        required=False,
        help_text=_("Leave blank to address the receiving organisation."),
    )
    started_on = _date(_("date of issue"))
    valid_days = forms.IntegerField(
        label=_("valid for (days)"),
        min_value=1,
        max_value=92,
        help_text=_("At most three months (the default is cut to three months)."),
    )
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["valid_days"].initial = settings.LETTER_VALID_DAYS


class ReceiptForm(forms.Form):
    receipt_on = _date(_("receipt returned on"))


class RegisterIncomingForm(forms.Form):
    letter_number = forms.CharField(label=_("letter number"), max_length=64)
    counterpart = forms.CharField(label=_("issued by (outside)"), max_length=128)
    person_name = forms.CharField(label=_("person's name"), max_length=64)
    birth_date = forms.DateField(
        label=_("birth date"),
        required=False,
        widget=DateInput(),
        help_text=_("As on the letter, if it gives one: a record brought back must match it."),
    )
    started_on = _date(_("date received"))
    valid_until = forms.DateField(label=_("valid until"), required=False, widget=DateInput())
    reason = _reason()


class LookupForm(forms.Form):
    """Confirm an incoming letter by linking the record of someone who left the platform."""

    id_number = forms.CharField(label=_("ID number"), max_length=32)
    decided_on = _date(_("date of confirmation"))


class ConfirmDateForm(forms.Form):
    decided_on = _date(_("date of confirmation"))


class MobileOutForm(forms.Form):
    host_org = TargetField(
        label=_("host organisation on the platform"),
        required=False,
    )
    destination = forms.CharField(label=_("where to"), max_length=128, required=False)
    since = _date(_("since"))
    expected_return = forms.DateField(
        label=_("expected return"), required=False, widget=DateInput()
    )
    card_number = forms.CharField(label=_("activity card number"), max_length=32, required=False)
    note = forms.CharField(label=_("note"), max_length=255, required=False)


class MobileInForm(forms.Form):
    person_name = forms.CharField(label=_("person's name"), max_length=64)
    home_text = forms.CharField(label=_("home organisation (outside)"), max_length=128)
    since = _date(_("since"))
    expected_return = forms.DateField(
        label=_("expected return"), required=False, widget=DateInput()
    )
    card_number = forms.CharField(label=_("activity card number"), max_length=32, required=False)
    note = forms.CharField(label=_("note"), max_length=255, required=False)


class EndMobileForm(forms.Form):
    returned_on = _date(_("returned on"))


class ConvertMobileForm(forms.Form):
    to_org = TargetField(label=_("receiving organisation on the platform"), required=False)
    counterpart = forms.CharField(
        label=_("or: organisation outside the platform (a letter is issued)"),
        max_length=128,
        required=False,
    )
    started_on = _date(_("date"))
    reason = _reason()


class ContactMarkForm(forms.Form):
    on = _date(_("date"))
    detail = forms.CharField(
        label=_("details"), max_length=255, required=False, validators=[no_control_characters]
    )


class ContactDecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[
            ("suspend", _("Suspend the Party standing")),
            ("remove", _("Remove from the Party")),
        ],
    )
    on = _date(_("date of the decision"))
    reference = forms.CharField(label=_("document number"), max_length=64)


STATE_CHOICES = [("all", _("Any state")), *State.choices]


class ListFilterForm(forms.Form):
    tab = forms.ChoiceField(
        choices=[("incoming", ""), ("outgoing", ""), ("stuck", "")], required=False
    )
    state = forms.ChoiceField(choices=STATE_CHOICES, required=False)
    q = forms.CharField(max_length=64, required=False)


class MobileFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=[("out", ""), ("in", "")], required=False)
    show = forms.ChoiceField(choices=[("active", ""), ("all", "")], required=False)
    q = forms.CharField(max_length=64, required=False)
