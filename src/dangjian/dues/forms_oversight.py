"""Forms of the dues pages for bases, relief and arrears. They check only the shape of what was
typed (amounts stay text, so a wrong value comes back as typed); the rules are checked by the
services, whose errors the views put next to the right field."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ArrearsDecision, Category, ReliefKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONTHS = [(m, str(m)) for m in range(1, 13)]
MAX_GRID_ROWS = 1000  # a branch normally has at most 50 members; this bounds a crafted request


def _amount_field(label, **kwargs):
    return forms.CharField(label=label, max_length=20, required=False, **kwargs)


class BaseRowForm(forms.Form):
    """One member's row of the bases grid. A row whose category is left empty is not saved."""

    member = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    category = forms.ChoiceField(
        label=_("dues category"), choices=[("", "—"), *Category.choices], required=False
    )
    base = _amount_field(_("monthly base"))
    override = _amount_field(_("amount set by hand"))
    override_reason = forms.CharField(
        label=_("reason for the amount"), max_length=255, required=False
    )


BaseRowFormSet = forms.formset_factory(
    BaseRowForm, extra=0, max_num=MAX_GRID_ROWS, validate_max=True, absolute_max=MAX_GRID_ROWS
)


class BaseForm(forms.Form):
    """One member's category and base for a year, with an optional amount set by hand."""

    category = forms.ChoiceField(label=_("dues category"), choices=Category.choices)
    base = _amount_field(
        _("monthly base"),
        help_text=_(
            "Monthly income for members in service or retired; for farmers the amount they "
            "chose (0.20 to 1.00 yuan); not asked for the other categories."
        ),
    )
    override = _amount_field(
        _("amount set by hand"), help_text=_("Leave empty to use the amount by the rules.")
    )
    override_reason = forms.CharField(
        label=_("reason for the amount"), max_length=255, required=False
    )


class ReliefForm(forms.Form):
    """The branch's approval of a hardship reduction or exemption (the committee above signs)."""

    year = forms.IntegerField(label=_("year"), min_value=2000, max_value=2100)
    from_month = forms.TypedChoiceField(label=_("from month"), choices=MONTHS, coerce=int)
    to_month = forms.TypedChoiceField(label=_("to month"), choices=MONTHS, coerce=int)
    kind = forms.ChoiceField(label=_("reduction or exemption"), choices=ReliefKind.choices)
    amount = _amount_field(
        _("reduced monthly amount"), help_text=_("Only for a reduction, in yuan.")
    )
    reason = forms.CharField(label=_("reason"), max_length=255)
    branch_decided_on = forms.DateField(
        label=_("date of the branch's decision"), widget=DATE, initial=timezone.localdate
    )
    branch_reference = forms.CharField(
        label=_("branch meeting record"), max_length=64, required=False
    )


class SignForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[("approve", _("Approve")), ("reject", _("Do not approve"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("note"),
        max_length=255,
        required=False,
        help_text=_("Required when not approving: say why."),
    )


class ArrearsDecisionForm(forms.Form):
    """The branch meeting's decision on a member six months behind. `confirm` is set by the
    second step of a decision that the member has left the Party."""

    outcome = forms.ChoiceField(
        label=_("decision of the branch meeting"),
        choices=ArrearsDecision.Outcome.choices,
        widget=forms.RadioSelect,
    )
    meeting_on = forms.DateField(
        label=_("date of the branch meeting"), widget=DATE, initial=timezone.localdate
    )
    reference = forms.CharField(label=_("meeting record"), max_length=64, required=False)
    note = forms.CharField(label=_("note"), max_length=255, required=False)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
