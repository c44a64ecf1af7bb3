"""Forms of the merchant console and the customer portal.

``MerchantScopedForm`` is the base of every console form for a merchant-owned row: the admin,
not the user, decides the row's merchant (see ``members.admin.MerchantScopedAdmin``), and the
form sets it on the instance before validation so that the per-merchant unique constraints are
checked by the form (a field error) rather than by the database (an ``IntegrityError``).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import BaseUserCreationForm
from django.db import models
from django.db.models import Q
from django.forms.models import ModelFormMetaclass
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from django_scopes.state import get_scope
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextInputWidget

from ledger.services import MAX_POINTS

from .models import Customer, Member, Program
from .services import PROGRAM_FIELDS


class ScopedModelFormMetaclass(ModelFormMetaclass):
    """Lets a model form with relations to scoped models be declared at import time.

    Building a model form evaluates each relation's default manager, and with no scope active
    (at import) a scoped manager raises. Such a class is built with scopes disabled and those
    relation fields start with no choices: the admin rebuilds its forms per request, inside the
    request's scope, and other callers set the querysets they mean.
    """

    def __new__(mcs, name, bases, attrs):
        if get_scope():  # inside a request, a job or a test: build as usual
            return super().__new__(mcs, name, bases, attrs)
        with scopes_disabled():
            new_class = super().__new__(mcs, name, bases, attrs)
        for field_name, field in new_class.base_fields.items():
            if (
                field_name not in new_class.declared_fields
                and isinstance(field, forms.ModelChoiceField)
                and hasattr(field.queryset.model._default_manager, "with_scopes_disabled")
            ):
                field.queryset = field.queryset.none()
        return new_class


class MerchantScopedForm(forms.ModelForm, metaclass=ScopedModelFormMetaclass):
    """A model form whose merchant comes from the admin, never from another merchant's rows.

    ``scoped_merchant_id`` (set by the admin for staff users) or ``merchant_source`` (a foreign
    key the merchant follows, e.g. ``program``) decides the merchant; a superuser picks it in
    the ``merchant`` field. Every related row chosen must belong to that same merchant.
    """

    scoped_merchant_id: int | None = None
    merchant_source: str | None = None

    def merchant_id(self) -> int | None:
        cleaned = getattr(self, "cleaned_data", {})
        if self.merchant_source:
            source = cleaned.get(self.merchant_source)
            if source is not None:
                return source.merchant_id
            if getattr(self.instance, f"{self.merchant_source}_id", None) is not None:
                return getattr(self.instance, self.merchant_source).merchant_id
            return None
        if self.scoped_merchant_id is not None:
            return self.scoped_merchant_id
        if cleaned.get("merchant") is not None:
            return cleaned["merchant"].pk
        return self.instance.merchant_id

    def clean(self):
        cleaned = super().clean()
        merchant_id = self.merchant_id()
        if merchant_id is None:
            return cleaned
        self.instance.merchant_id = merchant_id
        for name, value in cleaned.items():
            if (
                name != "merchant"
                and isinstance(value, models.Model)
                and getattr(value, "merchant_id", merchant_id) != merchant_id
            ):
                self.add_error(name, _("Choose one that belongs to the same merchant."))
        return cleaned

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if self.instance.merchant_id is not None:
            # Validate the per-merchant unique constraints although the field is not shown.
            exclude.discard("merchant")
        return exclude


class ProgramForm(MerchantScopedForm):
    class Meta:
        model = Program
        fields = ["merchant", *sorted(PROGRAM_FIELDS)]

    def clean(self):
        cleaned = super().clean()
        name, merchant_id = cleaned.get("name"), self.instance.merchant_id
        if name and merchant_id is not None:
            clash = Program.objects.with_scopes_disabled().filter(
                merchant_id=merchant_id, name=name, deleted_at__isnull=True
            )
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", _("A program with this name already exists."))
        return cleaned


class CustomerForm(MerchantScopedForm):
    class Meta:
        model = Customer
        fields = ["merchant", "external_id", "email", "name", "birthday", "user"]

    def clean(self):
        cleaned = super().clean()
        external_id, merchant_id = cleaned.get("external_id"), self.instance.merchant_id
        if external_id and merchant_id is not None:
            clash = Customer.objects.with_scopes_disabled().filter(
                merchant_id=merchant_id, external_id=external_id
            )
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("external_id", _("A customer with this external id already exists."))
        return cleaned


class MemberEnrolForm(MerchantScopedForm):
    """Enrols a customer in a program (the add form of the member admin)."""

    merchant_source = "program"

    class Meta:
        model = Member
        fields = ["program", "customer"]


class AdjustPointsForm(forms.Form):
    """A signed manual correction of a member's points, always with a reason."""

    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Signed: 50 adds fifty points, -50 removes fifty."),
        widget=UnfoldAdminIntegerFieldWidget,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Shown in the member's history and kept in the ledger."),
        widget=UnfoldAdminTextInputWidget,
    )

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a non-zero number of points."))
        return points


class PortalSignUpForm(BaseUserCreationForm):
    """A customer creates their portal account: their email is their login, the password goes
    through Django's validators; a friend's referral code is optional."""

    name = forms.CharField(
        label=_("Your name"), max_length=150, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    referral_code = forms.CharField(
        label=_("Referral code (optional)"), max_length=32, required=False,
        help_text=_("From the friend who invited you."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    class Meta(BaseUserCreationForm.Meta):
        fields = ("email",)
        field_classes: dict = {}

    field_order = ["name", "email", "password1", "password2", "referral_code"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        email = self.fields["email"]
        email.required = True
        email.label = _("Email address")
        email.help_text = _("You sign in with it.")
        email.widget.attrs.update({"autocomplete": "email"})

    def clean_email(self) -> str:
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"].strip())
        users = get_user_model().objects
        if users.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
            raise forms.ValidationError(
                _("An account with this email address exists already: sign in instead."),
                code="exists",
            )
        self.instance.username = email  # for the password validators' similarity check
        return email

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        user.username = self.cleaned_data["email"]
        user.first_name = self.cleaned_data["name"]
        if commit:
            user.save()
        return user
