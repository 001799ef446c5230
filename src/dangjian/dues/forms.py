"""Forms of the day-to-day dues pages: recording a month in the grid, one member's payment, a
voluntary payment, reversing a payment. They check types; the rules (what is owed, advance and
late payments, references, scope) live in the services, whose errors come back onto the fields
named here."""

import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.members.forms import DateInput

from .models import Method, PaymentKind

MONTH_CHOICES = [(m, f"{m:02d}") for m in range(1, 13)]
# Recording many members at once is for cash and bank transfers: online payments carry their
# own references and are recorded one by one.
GRID_METHODS = [(Method.CASH.value, Method.CASH.label), (Method.BANK.value, Method.BANK.label)]


def new_request_key() -> str:
    """One key per form shown: sending the same form twice records once."""
    return uuid.uuid4().hex


def _today():
    return timezone.localdate()


def _paid_on():
    return forms.DateField(label=_("date paid"), initial=_today, widget=DateInput())


def _request_key():
    # Not required: without it the service still records, only without replay protection.
    return forms.CharField(
        max_length=80, required=False, widget=forms.HiddenInput(), initial=new_request_key
    )


class RecordMonthForm(forms.Form):
    """The grid: one month, the members ticked, the date and how they paid."""

    month = forms.TypedChoiceField(
        label=_("month"),
        choices=MONTH_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the month column.")},
    )
    members = forms.TypedMultipleChoiceField(
        label=_("members"),
        choices=(),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick the members who paid.")},
    )
    paid_on = _paid_on()
    method = forms.ChoiceField(label=_("method"), choices=GRID_METHODS, initial=Method.CASH)
    # Shown once the service has answered that the month is more than six months back.
    confirm_late = forms.BooleanField(
        label=_("Record this month anyway: it is more than six months back"), required=False
    )
    request_key = _request_key()

    def __init__(self, *args, member_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(pk, str(pk)) for pk in member_ids]


class RemindForm(forms.Form):
    month = forms.TypedChoiceField(
        label=_("month"),
        choices=MONTH_CHOICES,
        coerce=int,
        error_messages={"required": _("Choose the month column.")},
    )


class PaymentForm(forms.Form):
    """One member's dues for one or more months of a year (ticked, or a range)."""

    months = forms.TypedMultipleChoiceField(
        label=_("months"),
        choices=(),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    from_month = forms.TypedChoiceField(
        label=_("from month"),
        choices=[("", "—"), *MONTH_CHOICES],
        coerce=int,
        required=False,
        empty_value=None,
    )
    to_month = forms.TypedChoiceField(
        label=_("to month"),
        choices=[("", "—"), *MONTH_CHOICES],
        coerce=int,
        required=False,
        empty_value=None,
    )
    amount = forms.DecimalField(
        label=_("amount (yuan)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text=_("Leave blank to pay the chosen months in full; less pays part of one month."),
    )
    paid_on = _paid_on()
    method = forms.ChoiceField(label=_("method"), choices=Method.choices, initial=Method.CASH)
    reference = forms.CharField(
        label=_("payment reference"),
        max_length=64,
        required=False,
        help_text=_("Required for online payments; the bank's number for transfers."),
    )
    approval = forms.CharField(
        label=_("branch approval"),
        max_length=128,
        required=False,
        help_text=_(
            "Paying in advance or on someone's behalf: the branch's approval (meeting, date)."
        ),
    )
    proxy_name = forms.CharField(label=_("paid on behalf by"), max_length=64, required=False)
    confirm_late = forms.BooleanField(label=_("Record these older months anyway"), required=False)
    note = forms.CharField(label=_("note"), max_length=255, required=False)
    request_key = _request_key()

    def __init__(self, *args, months=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = [(m, f"{m:02d}") for m in months]

    def chosen_months(self) -> list[int]:
        """The ticked months and the range, together; an empty or backwards range is an error
        on the form."""
        data = self.cleaned_data
        chosen = set(data.get("months") or [])
        first, last = data.get("from_month"), data.get("to_month")
        if first is not None or last is not None:
            first = first or last
            last = last or first
            if last < first:
                self.add_error("to_month", _("The last month is before the first."))
                return []
            chosen |= set(range(first, last + 1))
        if not chosen:
            self.add_error("months", _("Choose the months paid."))
        return sorted(chosen)


class VoluntaryForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount (yuan)"), min_value=0, max_digits=12, decimal_places=2
    )
    paid_on = _paid_on()
    method = forms.ChoiceField(label=_("method"), choices=Method.choices, initial=Method.CASH)
    reference = forms.CharField(
        label=_("payment reference"),
        max_length=64,
        required=False,
        help_text=_("Required for online payments."),
    )
    note = forms.CharField(label=_("note"), max_length=255, required=False)
    request_key = _request_key()


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("reason for reversal"), max_length=255)


class PaymentFilterForm(forms.Form):
    """Filters of the payments list (bad values are ignored, never an error page)."""

    year = forms.IntegerField(required=False, min_value=2008, max_value=2200)
    month = forms.TypedChoiceField(
        choices=[("", "—"), *MONTH_CHOICES], coerce=int, required=False, empty_value=None
    )
    method = forms.ChoiceField(choices=[("", "—"), *Method.choices], required=False)
    kind = forms.ChoiceField(required=False, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "—"), *PaymentKind.choices]
