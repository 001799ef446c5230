"""Forms of the member pages. They check types; the rules live in services.clean_record."""

from django import forms
from django.utils.translation import gettext_lazy as _

from dangjian.core import codes

from .models import Category, EventKind, FamilyMember, HistoryEntry, RewardDiscipline


def _blank(choices):
    return [("", "—"), *choices]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class MemberForm(forms.Form):
    name = forms.CharField(label=_("person's name"), max_length=64)
    id_number = forms.CharField(label=_("ID number"), max_length=32)
    sex = forms.ChoiceField(label=_("sex"), choices=_blank(codes.choices("sex")), required=False)
    ethnicity = forms.ChoiceField(
        label=_("ethnicity"), choices=codes.choices("ethnicity"), initial=codes.HAN
    )
    birth_date = forms.DateField(label=_("birth date"), required=False, widget=DateInput())
    category = forms.ChoiceField(label=_("category"), choices=Category.choices)
    joined_on = forms.DateField(label=_("date of joining"), widget=DateInput())
    full_on = forms.DateField(
        label=_("date of becoming full member"), required=False, widget=DateInput()
    )
    education = forms.ChoiceField(
        label=_("education"), choices=_blank(codes.choices("education")), required=False
    )
    degree = forms.CharField(label=_("degree"), max_length=32, required=False)
    school = forms.CharField(label=_("school and major"), max_length=128, required=False)
    native_place = forms.CharField(label=_("native place"), max_length=64, required=False)
    work_started_on = forms.DateField(
        label=_("date of starting work"), required=False, widget=DateInput()
    )
    job_category = forms.ChoiceField(
        label=_("job category"), choices=_blank(codes.choices("job_category")), required=False
    )
    work_unit = forms.CharField(label=_("work unit and post"), max_length=128, required=False)
    title = forms.CharField(label=_("professional title"), max_length=64, required=False)
    party_post = forms.CharField(label=_("post in the Party"), max_length=64, required=False)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    telephone = forms.CharField(label=_("landline"), max_length=32, required=False)
    home_address = forms.CharField(label=_("home address"), max_length=255, required=False)
    note = forms.CharField(
        label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, editing=False, masked=None, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            # Category changes through the timeline (became full, cancelled), not by editing.
            del self.fields["category"]
            # The full numbers are never put into the page: blank keeps the stored number.
            masked = masked or {}
            for name in ("id_number", "phone"):
                self.fields[name].required = False
                self.fields[name].widget.attrs["placeholder"] = _(
                    "%(masked)s (leave blank to keep)"
                ) % {"masked": masked.get(name) or "—"}


def event_choices() -> list[tuple[str, str]]:
    """The events recorded on this form: transfers and mobile stays have their own pages
    (services.TRANSFERS_OWN), and admission is the record's first event."""
    from .services import TRANSFERS_OWN

    return [
        (value, label)
        for value, label in EventKind.choices
        if value not in TRANSFERS_OWN and value != EventKind.ADMITTED
    ]


class EventForm(forms.Form):
    kind = forms.ChoiceField(label=_("event"), choices=event_choices)
    occurred_on = forms.DateField(label=_("date"), widget=DateInput())
    detail = forms.CharField(label=_("details"), max_length=255, required=False)
    reference = forms.CharField(label=_("document number"), max_length=64, required=False)


class FamilyForm(forms.ModelForm):
    class Meta:
        model = FamilyMember
        fields = ["relation", "name", "birth_date", "political_status", "work_unit"]
        widgets = {"birth_date": DateInput()}


class HistoryForm(forms.ModelForm):
    class Meta:
        model = HistoryEntry
        fields = ["kind", "started_on", "ended_on", "place", "role"]
        widgets = {"started_on": DateInput(), "ended_on": DateInput()}


class RewardForm(forms.ModelForm):
    class Meta:
        model = RewardDiscipline
        fields = ["kind", "decided_on", "title", "issuer", "reference", "note"]
        widgets = {"decided_on": DateInput(), "note": forms.Textarea(attrs={"rows": 3})}


RELATED_FORMS = {"family": FamilyForm, "history": HistoryForm, "rewards": RewardForm}


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=128, required=False)
    file = forms.FileField(label=_("file (PDF, JPEG or PNG)"))


class PhotoForm(forms.Form):
    photo = forms.FileField(label=_("photo"))


class ContactForm(forms.Form):
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    telephone = forms.CharField(label=_("landline"), max_length=32, required=False)
    home_address = forms.CharField(label=_("home address"), max_length=255, required=False)
