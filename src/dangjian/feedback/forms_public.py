"""Forms of the public request desk (群众诉求): the shape of what people type, checked with the
services' own checks where they exist, so one round shows every mistake at once. The services
still decide; their errors come back to the field they name."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dangjian.core.captcha import CaptchaField
from dangjian.core.errors import ServiceError
from dangjian.core.text import clean_text

from . import photos, rules, selectors, services
from .models import Category, Desk


def _service_check(call):
    """Run one of the services' checks; its message becomes the field's error."""
    try:
        return call()
    except ServiceError as exc:
        raise ValidationError(str(exc.message), code=exc.code) from None


def _one_line_breaks(value) -> str:
    # Browsers send a textarea's line breaks as CR LF but count them as one character.
    return str(value or "").replace("\r\n", "\n")


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos from one <input type=file multiple>; the services check each is a photo."""

    widget = MultiplePhotoInput

    def __init__(self, *, max_files: int, **kwargs):
        self.max_files = max_files
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("photos"))
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {
                "accept": "image/*",
                "multiple": True,
                "class": "form-control",
                "data-max-files": max_files,
                "data-warning": "photos-too-many",
            }
        )

    def clean(self, data, initial=None):
        files = list(data) if isinstance(data, list | tuple) else ([data] if data else [])
        files = [super(PhotosField, self).clean(f, initial) for f in files if f]
        if len(files) > self.max_files:
            raise ValidationError(
                _("At most %(n)d photos.") % {"n": self.max_files}, code="too_many_files"
            )
        return files


def _text_field(limit: int, rows: int, label) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": rows, "maxlength": limit, "class": "form-control", "data-counter": ""}
        ),
        error_messages={"required": _("This field is required.")},
    )


CATEGORY_ICONS = {
    "help": "life-preserver",
    "opinion": "chat-left-text",
    "suggestion": "lightbulb",
    "complaint": "exclamation-octagon",
    "praise": "hand-thumbs-up",
    "other": "three-dots",
}


class RequestForm(forms.Form):
    """A request from the public: category, place, words, photos, who (optional), CAPTCHA."""

    category = forms.ChoiceField(
        label=_("kind of request"),
        choices=Category.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a category."),
            "invalid_choice": _("Choose a category."),
        },
    )
    desk = forms.ChoiceField(
        label=_("place"),
        error_messages={
            "required": _("Choose the place or organisation the request concerns."),
            "invalid_choice": _("Choose the place or organisation the request concerns."),
        },
    )
    text = _text_field(services.TEXT_MAX, 6, _("What is the matter?"))
    photos = PhotosField(max_files=photos.MAX_PHOTOS)
    name = forms.CharField(
        label=_("your name"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("phone"),
        required=False,
        max_length=30,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "tel",
                "inputmode": "tel",
                "autocomplete": "tel",
            }
        ),
    )
    email = forms.CharField(
        label=_("e-mail"),
        required=False,
        max_length=254,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "email",
                "inputmode": "email",
                "autocomplete": "email",
            }
        ),
    )
    consent_contact = forms.BooleanField(
        label=_("You may contact me about this request"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    allow_public = forms.BooleanField(
        label=_("It may be shown on the public page, without my name"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    captcha = CaptchaField()

    def __init__(self, *args, fixed: Desk | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed = fixed
        self.desks = {d.code: d for d in selectors.public_desks()}
        self.fields["desk"].choices = [("", _("Choose the place…"))] + [
            (code, desk_label(d)) for code, d in self.desks.items()
        ]
        self.fields["desk"].widget.attrs["class"] = "form-select"
        if fixed is not None:  # from the QR poster: the place is given, not chosen
            self.fields["desk"] = forms.CharField(required=False, widget=forms.HiddenInput())
            self.initial["desk"] = fixed.code

    def categories(self) -> list[tuple[str, str, str, bool]]:
        """(value, label, icon, checked) of each category, for the big buttons."""
        chosen = str(self["category"].value() or "")
        return [
            (value, label, CATEGORY_ICONS.get(value, "circle"), value == chosen)
            for value, label in self.fields["category"].choices
        ]

    def clean_desk(self):
        if self.fixed is not None:
            return self.fixed
        return self.desks[self.cleaned_data["desk"]]

    def clean_text(self):
        text = _service_check(
            lambda: clean_text(
                _one_line_breaks(self.cleaned_data["text"]),
                "text",
                services.TEXT_MAX,
                required=True,
                lines=True,
            )
        )
        if len(text) < 5:
            raise ValidationError(_("Describe the matter in at least 5 characters."))
        return text

    def clean_name(self):
        return _service_check(lambda: clean_text(self.cleaned_data["name"], "name", 50))

    def clean_phone(self):
        return _service_check(lambda: services.normalise_phone(self.cleaned_data["phone"]))

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email:
            try:
                forms.EmailField().clean(email)
            except ValidationError:
                raise ValidationError(_("Enter a valid e-mail address.")) from None
        return email

    def clean(self):
        data = super().clean()
        if (
            data.get("consent_contact")
            and not (data.get("phone") or data.get("email"))
            and "phone" not in self.errors
            and "email" not in self.errors
        ):
            self.add_error("phone", _("Leave a phone number or an e-mail address to be contacted."))
        return data

    def submit_values(self) -> dict:
        """The keyword arguments of services.submit."""
        data = self.cleaned_data
        return {
            "category": data["category"],
            "desk": data["desk"],
            "text": data["text"],
            "name": data["name"],
            "phone": data["phone"],
            "email": data["email"],
            "consent_contact": data["consent_contact"],
            "allow_public": data["allow_public"],
            "photo_files": data["photos"],
        }


def desk_label(desk: Desk) -> str:
    if desk.place and desk.place != desk.organization.name:
        return f"{desk.place}（{desk.organization.name}）"
    return desk.organization.name


class TrackForm(forms.Form):
    """Tracking number and check code, as written on paper or copied from a screenshot."""

    number = forms.CharField(
        label=_("tracking number"),
        max_length=30,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-lg",
                "inputmode": "numeric",
                "autocomplete": "off",
                "placeholder": "20260101-123456",
            }
        ),
    )
    code = forms.CharField(
        label=_("check code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-lg",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "autocorrect": "off",
                "spellcheck": "false",
            }
        ),
    )

    def clean_number(self):
        return rules.normalise_number(self.cleaned_data["number"])

    def clean_code(self):
        return rules.normalise_code(self.cleaned_data["code"])


class AddInformationForm(forms.Form):
    """More words and photos from the person who submitted the request."""

    text = _text_field(services.ADD_MAX, 4, _("What would you like to add?"))
    photos = PhotosField(max_files=photos.MAX_PHOTOS)

    def clean_text(self):
        return _service_check(
            lambda: clean_text(
                _one_line_breaks(self.cleaned_data["text"]),
                "text",
                services.ADD_MAX,
                required=True,
                lines=True,
            )
        )


class RateForm(forms.Form):
    """Stars for the answer, a comment, and (when unsatisfied) asking to reopen."""

    rating = forms.TypedChoiceField(
        label=_("satisfaction"),
        choices=[(n, str(n)) for n in rules.RATINGS],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose from 1 to 5 stars."),
            "invalid_choice": _("Choose from 1 to 5 stars."),
        },
    )
    comment = forms.CharField(
        label=_("comment"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500, "class": "form-control"}),
    )
    reopen = forms.BooleanField(
        label=_("Not solved: please handle it again"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def clean_comment(self):
        return _one_line_breaks(self.cleaned_data["comment"])
