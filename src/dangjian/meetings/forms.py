"""Forms of the secretary's pages of organisational life. They check types and lengths; the rules
(kinds of meeting an organisation holds, times, class hours, votes, files) live in the services,
whose errors come back onto the fields named here."""

import datetime
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import AttendeeState, Frequency, MeetingStatus

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _when(label, *, required=True):
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        error_messages={"invalid": _("Enter a date and time.")},
    )


class MeetingForm(forms.Form):
    """A meeting planned or recorded: the kinds offered are those the organisation holds."""

    activity_type = forms.TypedChoiceField(
        label=_("activity"),
        choices=(),
        coerce=int,
        error_messages={"required": _("Choose the kind of meeting.")},
    )
    topic = forms.CharField(label=_("topic"), max_length=200)
    starts_at = _when(_("starts"))
    ends_at = _when(_("ends"), required=False)
    place = forms.CharField(label=_("place"), max_length=200, required=False)
    online_link = forms.CharField(
        label=_("online link"),
        max_length=500,
        required=False,
        help_text=_("For a meeting held online (or both): https://…"),
    )
    host = forms.CharField(label=_("host"), max_length=64, required=False)
    recorder = forms.TypedChoiceField(
        label=_("recorder"), choices=(), coerce=int, required=False, empty_value=None
    )
    lecturer = forms.CharField(label=_("lecturer"), max_length=64, required=False)
    lecture_title = forms.CharField(label=_("lecture title"), max_length=200, required=False)
    agenda = forms.CharField(
        label=_("agenda"), max_length=4000, required=False, widget=forms.Textarea
    )
    class_hours = forms.CharField(
        label=_("class hours"),
        max_length=8,
        required=False,
        help_text=_("Credited to each person present; blank for the default of the kind."),
    )

    def __init__(self, *args, types=(), recorders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.types = list(types)
        self.recorders = list(recorders)
        self.fields["activity_type"].choices = [("", "—")] + [(t.pk, t.label) for t in self.types]
        self.fields["recorder"].choices = [("", _("nobody yet"))] + [
            (u.pk, str(u)) for u in self.recorders
        ]

    def chosen_type(self):
        pk = self.cleaned_data.get("activity_type")
        return next((t for t in self.types if t.pk == pk), None)

    def chosen_recorder(self):
        pk = self.cleaned_data.get("recorder")
        return next((u for u in self.recorders if u.pk == pk), None)


# A meeting's page ---------------------------------------------------------------------------------


class ActionForm(forms.Form):
    """A form of the meeting's page: its field ids carry the action, as several share a page."""

    action = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.action}-%s")
        super().__init__(*args, **kwargs)


class NoticeForm(ActionForm):
    action = "notice"


class HeldForm(ActionForm):
    action = "held"


class CancelForm(ActionForm):
    action = "cancel"
    reason = forms.CharField(label=_("reason for cancelling"), max_length=200)


SHOWN_FIELD = re.compile(r"^was-(\d{1,18})$")
STATE_FIELD = re.compile(r"^state-(\d{1,18})$")


class AttendanceForm(ActionForm):
    """One radio group per attendee, named state-<attendee id>; the service checks that every
    id is of this meeting and every state known."""

    action = "attendance"

    def clean(self):
        states = {}
        for key in self.data:
            found = STATE_FIELD.match(key)
            if found:
                states[int(found.group(1))] = str(self.data.get(key, ""))[:20]
            elif key.startswith("state-"):
                raise ValidationError(
                    _("Attendance of someone not expected at this meeting."), code="not_expected"
                )
        if not states:
            raise ValidationError(_("Mark the attendance of at least one person."))
        self.cleaned_data["states"] = states
        # What the page showed when it was drawn: rows changed since are not overwritten.
        shown = {}
        for key in self.data:
            found = SHOWN_FIELD.match(key)
            if found:
                shown[int(found.group(1))] = str(self.data.get(key, ""))[:20]
        self.cleaned_data["shown"] = shown
        return self.cleaned_data

    def posted(self) -> dict[int, str]:
        """What was typed, to show again when the page comes back with an error."""
        out = {}
        for key in self.data:
            found = STATE_FIELD.match(key)
            if found:
                out[int(found.group(1))] = str(self.data.get(key, ""))
        return out


class LeaveForm(ActionForm):
    action = "leave"
    attendee = forms.IntegerField(min_value=1, max_value=2**62, widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))],
        error_messages={"required": _("Approve or refuse.")},
    )


class MinutesForm(ActionForm):
    action = "minutes"
    minutes = forms.CharField(
        label=_("minutes"), required=False, strip=False, widget=forms.Textarea
    )


class FileForm(ActionForm):
    action = "file"
    file = forms.FileField(
        label=_("photo or document"),
        help_text=_(
            "Photos (JPEG, PNG, WebP) or PDF, Word (.docx) and Excel (.xlsx), 20 MB at most."
        ),
        error_messages={"required": _("Choose a file."), "empty": _("The file is empty.")},
    )


def _votes(label, *, initial=None):
    return forms.IntegerField(label=label, min_value=0, max_value=100_000, initial=initial)


class ResolutionForm(ActionForm):
    action = "resolution"
    title = forms.CharField(label=_("resolution"), max_length=200)
    yes = _votes(_("yes"))
    no = _votes(_("no"))
    abstain = _votes(_("abstentions"))
    written = forms.IntegerField(
        label=_("written opinions in favour"),
        min_value=0,
        max_value=100_000,
        initial=0,
        required=False,
        help_text=_("Sent beforehand by voting members who are absent."),
    )
    secret_ballot = forms.BooleanField(label=_("secret ballot"), required=False)

    def clean_written(self):
        return self.cleaned_data.get("written") or 0


ACTION_FORMS: dict[str, type[ActionForm]] = {
    form.action: form
    for form in (
        NoticeForm,
        HeldForm,
        CancelForm,
        AttendanceForm,
        LeaveForm,
        MinutesForm,
        FileForm,
        ResolutionForm,
    )
}

ATTENDANCE_CHOICES = [
    (AttendeeState.PRESENT, _("present")),
    (AttendeeState.LEAVE, _("on leave")),
    (AttendeeState.ABSENT, _("absent")),
]


# The list and the calendar ------------------------------------------------------------------------


class ListFilterForm(forms.Form):
    org = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    type = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    status = forms.ChoiceField(
        choices=[("", _("Any status")), *MeetingStatus.choices], required=False
    )
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    q = forms.CharField(max_length=100, required=False, strip=True)

    def clean(self):
        data = super().clean()
        for key in ("since", "until"):
            day = data.get(key)
            if day is not None and not datetime.date(1921, 1, 1) <= day <= datetime.date(
                2200, 1, 1
            ):
                data[key] = None
        return data


# Local frequency rules ----------------------------------------------------------------------------


class FrequencyRuleForm(forms.Form):
    activity_type = forms.TypedChoiceField(label=_("activity"), choices=(), coerce=int)
    frequency = forms.ChoiceField(
        label=_("required frequency"),
        choices=[*Frequency.choices, ("", _("Remove the local rule (back to the rule above)"))],
        required=False,
    )
    note = forms.CharField(
        label=_("source"),
        max_length=200,
        required=False,
        help_text=_("The document that sets it, for example 某省委组织部〔2024〕12号."),
    )

    def __init__(self, *args, types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.types = list(types)
        self.fields["activity_type"].choices = [(t.pk, t.label) for t in self.types]

    def chosen_type(self):
        pk = self.cleaned_data.get("activity_type")
        return next((t for t in self.types if t.pk == pk), None)
