"""Forms of the staff pages of requests from the public. They check types and lengths; the rules
(life cycle, who may handle, keywords, codes) live in the services, whose errors come back onto
the fields named here."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import services
from .models import Category, Status


class ActionForm(forms.Form):
    """A form of the request page: its field ids carry the action, as several share a page."""

    action = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.action}-%s")
        super().__init__(*args, **kwargs)


class AcceptForm(ActionForm):
    action = "accept"


class StartForm(ActionForm):
    action = "start"


class CloseForm(ActionForm):
    action = "close"


class AssignForm(ActionForm):
    action = "assign"
    assignee = forms.TypedChoiceField(
        label=_("assignee"), choices=(), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, handlers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("nobody"))] + [
            (u.pk, u.display_name or u.get_username()) for u in handlers
        ]


class NoteForm(ActionForm):
    action = "note"
    text = forms.CharField(
        label=_("internal note"),
        max_length=services.NOTE_MAX,
        widget=forms.Textarea,
        help_text=_("Seen by staff only, never by the person."),
    )


class TargetField(forms.IntegerField):
    """An organisation of the whole tree, chosen through the search (its id)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.HiddenInput())
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**62)
        super().__init__(**kwargs)


class ForwardForm(ActionForm):
    action = "forward"
    to_org = TargetField(
        label=_("forward to"),
        error_messages={"required": _("Choose the organisation to forward to.")},
    )
    reason = forms.CharField(label=_("reason"), max_length=500, widget=forms.Textarea)


class MergeForm(ActionForm):
    action = "merge"
    into = forms.CharField(
        label=_("tracking number of the request it repeats"),
        max_length=40,
        help_text=_("For example 20261207-048213."),
    )
    note = forms.CharField(label=_("note"), max_length=500, required=False)


class AnswerForm(ActionForm):
    action = "answer"
    reply = forms.CharField(
        label=_("public reply"),
        max_length=services.REPLY_MAX,
        widget=forms.Textarea,
        help_text=_("The person reads it on the request desk, and by SMS or e-mail if agreed."),
    )
    signed = forms.CharField(
        label=_("signed as"),
        max_length=100,
        required=False,
        help_text=_("Leave blank to sign with the organisation's name."),
    )


class RejectForm(ActionForm):
    action = "reject"
    reason = forms.CharField(
        label=_("reason"),
        max_length=500,
        widget=forms.Textarea,
        help_text=_("The person reads it."),
    )


class FeatureForm(ActionForm):
    action = "feature"
    featured = forms.BooleanField(label=_("shown on the public page"), required=False)


ACTION_FORMS: dict[str, type[ActionForm]] = {
    form.action: form
    for form in (
        AcceptForm,
        StartForm,
        AssignForm,
        NoteForm,
        ForwardForm,
        MergeForm,
        AnswerForm,
        CloseForm,
        RejectForm,
        FeatureForm,
    )
}


# The inbox ---------------------------------------------------------------------------------


class InboxFilterForm(forms.Form):
    org = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    exact = forms.BooleanField(required=False)
    category = forms.ChoiceField(
        choices=[("", _("Any category")), *Category.choices], required=False
    )
    status = forms.ChoiceField(choices=[("", _("Any status")), *Status.choices], required=False)
    q = forms.CharField(max_length=100, required=False, strip=True)


# Settings -----------------------------------------------------------------------------------


class DeskForm(forms.Form):
    organization = forms.TypedChoiceField(label=_("organisation"), choices=(), coerce=int)
    code = forms.CharField(
        label=pgettext_lazy("desk", "code"),
        max_length=32,
        help_text=_("2 to 32 lower-case letters, digits and hyphens; it is in the QR code."),
    )
    place = forms.CharField(label=_("place"), max_length=100, required=False)
    intro = forms.CharField(
        label=_("introduction"), max_length=500, required=False, widget=forms.Textarea
    )
    active = forms.BooleanField(label=_("accepts requests"), required=False, initial=True)

    def __init__(self, *args, organizations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [
            (o.pk, getattr(o, "label", o.name)) for o in organizations
        ]


class RuleForm(forms.Form):
    organization = forms.TypedChoiceField(label=_("organisation"), choices=(), coerce=int)
    keywords = forms.CharField(
        label=_("keywords"),
        max_length=500,
        help_text=_("Separated by spaces or commas: 路灯 照明、停电"),
    )
    category = forms.ChoiceField(
        label=pgettext_lazy("request", "category"),
        choices=[("", _("Any category")), *Category.choices],
        required=False,
    )
    weight = forms.IntegerField(label=_("weight"), min_value=1, max_value=10, initial=1)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)
    note = forms.CharField(label=_("note"), max_length=200, required=False)

    def __init__(self, *args, organizations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [
            (o.pk, getattr(o, "label", o.name)) for o in organizations
        ]


class TryRouteForm(forms.Form):
    text = forms.CharField(label=_("text of a request"), max_length=2000, widget=forms.Textarea)
    category = forms.ChoiceField(
        label=pgettext_lazy("request", "category"), choices=Category.choices
    )
    desk = forms.IntegerField(label=_("desk"), required=False, min_value=1, max_value=2**62)


class DeadlineForm(forms.Form):
    category = forms.ChoiceField(
        label=pgettext_lazy("request", "category"), choices=Category.choices
    )
    ack_days = forms.IntegerField(label=_("working days to acknowledge"), min_value=0)
    answer_days = forms.IntegerField(label=_("working days to answer"), min_value=1)
