"""The merchant console (Django admin themed with django-unfold): tenancy, programs, members.

Scoping: ``members.middleware.TenantScopeMiddleware`` activates the staff user's merchant scope
for every admin request (the superuser, the platform operator, runs with scopes disabled), so
querysets and foreign-key choices only ever hold that merchant's rows. ``MerchantScopedAdmin``
adds the explicit filter on top, hides the ``merchant`` field from staff and sets it from their
membership, and answers 404 for a row that is not theirs, exactly as for one that does not
exist. Other apps' admins subclass it.

Roles are Django permissions (``members.services.ROLE_PERMISSIONS``): an Owner edits programs,
a Manager reads them, both can adjust points. Actions call services and show a
``LoyaltyError``'s ``detail`` as an error message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from ledger.models import Entry
from ledger.services import points_adjust
from loyaltysite.errors import LoyaltyError
from loyaltysite.ids import parse_id

from .forms import AdjustPointsForm, CustomerForm, MemberEnrolForm, MerchantScopedForm, ProgramForm
from .middleware import merchant_id_for_user
from .models import (
    Customer,
    Member,
    Merchant,
    MerchantAPIKey,
    Program,
    StaffMembership,
    normalize_card_id,
)
from .resources import (
    ConsoleImportExportMixin,
    CustomerExportResource,
    CustomerImportResource,
    MemberExportResource,
    MemberImportResource,
)
from .services import (
    PROGRAM_FIELDS,
    api_key_create,
    member_enrol,
    member_set_status,
    program_create,
    program_delete,
    program_update,
    staff_attach,
)

STATUS_LABELS = {
    Member.Status.ACTIVE: "success",
    Member.Status.SUSPENDED: "warning",
    Member.Status.INACTIVE: "danger",
}


def _without(fields: Any, name: str) -> list:
    """``fields`` of a fieldset without ``name`` (also inside tuples of same-line fields)."""
    kept: list = []
    for field in fields:
        if isinstance(field, list | tuple):
            inner = [f for f in field if f != name]
            if inner:
                kept.append(tuple(inner))
        elif field != name:
            kept.append(field)
    return kept


def _adopt(target: Model, saved: Model) -> None:
    """Make ``target`` (the admin's unsaved instance) the row a service just saved."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class MerchantScopedAdmin(ModelAdmin):
    """Base admin for a merchant-owned model.

    Staff see and change only their merchant's rows; the ``merchant`` field is hidden from them
    and set on save from ``request.user.staff_membership``. The superuser sees every merchant
    and picks one when adding (it is read-only afterwards). With ``merchant_source`` (e.g.
    ``"program"``) the merchant always follows that foreign key and is never shown.
    """

    form = MerchantScopedForm
    merchant_source: str | None = None
    # (field, normalizer): a search typed as printed (dashes, lower case: card ids, voucher
    # codes) also finds the row whose field equals the normalized term.
    search_normalized: tuple[str, Callable[[str], str]] | None = None

    # -- who is asking -------------------------------------------------------------------
    @staticmethod
    def is_operator(request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def staff_merchant_id(self, request: HttpRequest) -> int | None:
        return None if self.is_operator(request) else merchant_id_for_user(request.user)

    def shows_merchant(self, request: HttpRequest) -> bool:
        return self.is_operator(request) and not self.merchant_source

    # -- reading -------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        if self.is_operator(request):
            return qs
        merchant_id = self.staff_merchant_id(request)
        return qs.filter(merchant_id=merchant_id) if merchant_id is not None else qs.none()

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        if self.search_normalized and search_term:
            field, normalize = self.search_normalized
            value = normalize(search_term)
            if value and value != search_term:
                queryset |= self.get_queryset(request).filter(**{field: value})
        return queryset, may_have_duplicates

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another merchant's id answers exactly like an id that does not exist.
        raise Http404(gettext("Not found."))

    def get_list_display(self, request: HttpRequest):
        columns = list(super().get_list_display(request))
        return [*columns, "merchant"] if self.shows_merchant(request) else columns

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        return [*filters, "merchant"] if self.shows_merchant(request) else filters

    # -- forms ---------------------------------------------------------------------------
    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None):
        return self.scope_fieldsets(request, super().get_fieldsets(request, obj))

    def scope_fieldsets(self, request: HttpRequest, fieldsets: Any) -> list:
        """``fieldsets`` without the merchant field, unless the operator picks it."""
        if self.shows_merchant(request):
            return list(fieldsets)
        return [
            (title, {**options, "fields": _without(options["fields"], "merchant")})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.shows_merchant(request) and "merchant" not in readonly:
            readonly.append("merchant")
        return readonly

    def get_form(self, request: HttpRequest, obj: Model | None = None, change: bool = False,
                 **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not issubclass(form, MerchantScopedForm):
            return form
        return type(form.__name__, (form,), {
            "scoped_merchant_id": self.staff_merchant_id(request),
            "merchant_source": self.merchant_source or form.merchant_source,
        })

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        related = db_field.related_model
        queryset = kwargs.get("queryset")
        if related is Program:
            queryset = (queryset if queryset is not None else Program.objects.all()).filter(
                deleted_at__isnull=True
            )
        if not self.is_operator(request) and any(
            f.name == "merchant" for f in related._meta.concrete_fields
        ):
            base = queryset if queryset is not None else related._default_manager.all()
            queryset = base.filter(merchant_id=self.staff_merchant_id(request))
        if queryset is not None:
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # -- writing -------------------------------------------------------------------------
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        return self.is_operator(request) or self.staff_merchant_id(request) is not None

    def assign_merchant(self, request: HttpRequest, obj: Model, form: Any) -> None:
        merchant_id = self.staff_merchant_id(request)
        if merchant_id is None and isinstance(form, MerchantScopedForm):
            merchant_id = form.merchant_id()
        if merchant_id is None:
            raise PermissionDenied
        obj.merchant_id = merchant_id

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        self.assign_merchant(request, obj, form)
        super().save_model(request, obj, form, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except LoyaltyError as exc:
            # A business rule refused the save (the form's checks should catch it first).
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# -- platform ------------------------------------------------------------------------------


class OperatorOnlyMixin:
    """Only the platform operator (superuser) sees this admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser


@admin.register(Merchant)
class MerchantAdmin(OperatorOnlyMixin, ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(MerchantScopedAdmin):
    """The operator attaches staff to merchants; an Owner can see who works for theirs."""

    list_display = ["user", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "merchant"]
    autocomplete_fields = ["user"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # Through the service, so the user also becomes staff and gets the role's group.
        _adopt(obj, staff_attach(user=obj.user, merchant=obj.merchant, role=obj.role))


# -- programs ------------------------------------------------------------------------------


@admin.register(Program)
class ProgramAdmin(MerchantScopedAdmin):
    """Owners edit programs; Managers read them (only ``view_program``)."""

    form = ProgramForm
    list_display = [
        "name", "currency", "earn_rate", "point_value", "expiry_policy", "pending_days",
        "member_count", "is_active",
    ]
    list_filter = ["is_active", "expiry_policy"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": [
            "merchant", "name", "currency", "time_zone", "language", "is_active", "auto_enrol",
        ]}),
        (_("Points"), {"fields": [
            "point_name", "point_name_plural", "point_symbol", "earn_rate", "rounding",
            "point_value",
        ]}),
        (_("Expiry and pending"), {"fields": [
            "expiry_policy", "expiry_months", "expiry_warning_days", "pending_days",
        ]}),
        (_("Redemption"), {"fields": [
            "min_redeem_points", "max_redeem_percent", "reservation_ttl_minutes",
        ]}),
        (_("History"), {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request):
        # A soft-deleted program is gone from the console as from the API.
        return (
            super().get_queryset(request)
            .filter(deleted_at__isnull=True)
            .annotate(member_total=Count("members"))
        )

    @display(description=_("Members"), ordering="member_total")
    def member_count(self, obj: Program) -> int:
        return obj.member_total

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in (form.changed_data if change else form.cleaned_data)
            if name in PROGRAM_FIELDS
        }
        if change:
            program_update(program=obj, **fields)
            return
        self.assign_merchant(request, obj, form)
        _adopt(obj, program_create(merchant=obj.merchant, **fields))

    def get_deleted_objects(self, objs, request):
        # Deleting is a soft delete: the program's members and ledger stay.
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        program_delete(program=obj)

    def delete_queryset(self, request, queryset):
        for program in queryset:
            program_delete(program=program)


# -- customers and members -----------------------------------------------------------------


class CustomerMemberInline(TabularInline):
    model = Member
    fk_name = "customer"
    fields = ["card", "program", "status", "balance", "pending_points", "lifetime_points"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("Card"))
    def card(self, obj: Member) -> str:
        return obj.card_id_display


@admin.register(Customer)
class CustomerAdmin(ConsoleImportExportMixin, MerchantScopedAdmin):
    form = CustomerForm
    import_resource = CustomerImportResource
    export_resource = CustomerExportResource
    list_display = ["__str__", "email", "external_id", "portal_account", "created_at"]
    search_fields = ["external_id", "email", "name"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]
    inlines = [CustomerMemberInline]

    def get_fieldsets(self, request, obj=None):
        fields = ["merchant", "external_id", "email", "name", "birthday"]
        if self.is_operator(request):
            # Linking a portal login means choosing among every user: operator only.
            fields.append("user")
        if obj is not None:
            fields.append("created_at")
        return self.scope_fieldsets(request, [(None, {"fields": fields})])

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @display(description=_("Portal account"), boolean=True)
    def portal_account(self, obj: Customer) -> bool:
        return obj.user_id is not None


class RecentEntryInline(TabularInline):
    """The member's ledger, newest first, read-only, ten to a page."""

    model = Entry
    fk_name = "member"
    fields = ["created_at", "kind", "points", "balance_after", "reason", "reference", "actor"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    per_page = 10
    can_delete = False
    hide_title = True
    verbose_name_plural = _("Recent ledger entries")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Member)
class MemberAdmin(ConsoleImportExportMixin, MerchantScopedAdmin):
    """Members: figures read-only; points and status change only through actions."""

    form = MemberEnrolForm
    import_resource = MemberImportResource  # with opening balances, through the ledger
    export_resource = MemberExportResource
    merchant_source = "program"
    list_display = [
        "card", "customer", "program", "status_label", "balance", "pending_points",
        "reserved_points", "lifetime_points", "tier", "streak",
    ]
    list_filter = ["status", "program", "tier"]
    list_select_related = ["customer", "program", "tier"]
    search_fields = ["card_id", "customer__external_id", "customer__email", "customer__name"]
    search_normalized = ("card_id", normalize_card_id)
    actions_detail = ["adjust_points", "suspend", "reactivate", "deactivate", "ledger"]
    # Filled by other apps through ``member_admin_extend``.
    extra_inlines: list[type] = []
    action_conditions: dict[str, Callable[[Member], bool]] = {}
    fieldsets_change = [
        (None, {"fields": [
            "card", "customer_link", "program", "status_text", "enrolled_at",
            "status_changed_at", "last_activity_at",
        ]}),
        (_("Figures"), {"fields": [
            "balance", "pending_points", "reserved_points", "lifetime_points",
        ]}),
        (_("Tier and streak"), {"fields": ["tier", "streak"]}),
    ]

    # -- pages ---------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["program", "customer"]})]
        return self.fieldsets_change

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [field for _title, opts in self.fieldsets_change for field in opts["fields"]]

    def get_inlines(self, request, obj):
        return [RecentEntryInline, *self.extra_inlines] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:  # nothing on the change page is editable
            return
        _adopt(obj, member_enrol(program=obj.program, customer=obj.customer))

    @display(description=_("Card"), ordering="card_id")
    def card(self, obj: Member) -> str:
        return obj.card_id_display

    @display(description=_("Customer"))
    def customer_link(self, obj: Member) -> str:
        url = reverse("admin:members_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}" class="text-primary-600">{}</a>', url, obj.customer)

    @display(description=_("Status"), ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Member) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("Status"))
    def status_text(self, obj: Member) -> str:
        return obj.get_status_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing on the member page is edited in place: no save buttons, only actions.
        extra_context = {
            **(extra_context or {}),
            "show_save": False, "show_save_and_continue": False,
            "show_save_and_add_another": False, "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # -- actions -------------------------------------------------------------------------
    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        member = None
        pk = parse_id(str(object_id)) if object_id else None
        if pk is not None:
            member = self.get_queryset(request).filter(pk=pk).first()
        if member is None:
            return actions
        allowed = {
            "suspend": member.status == Member.Status.ACTIVE,
            "reactivate": member.status != Member.Status.ACTIVE,
            "deactivate": member.status != Member.Status.INACTIVE,
            "adjust_points": member.status == Member.Status.ACTIVE,
            **{name: shows(member) for name, shows in self.action_conditions.items()},
        }
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        return [a for a in actions if allowed.get(a.action_name.removeprefix(prefix), True)]

    # Unfold checks dotted permissions against the database at start-up (before migrate on a
    # fresh database), so the actions name these methods instead.
    def has_adjust_points_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("ledger.adjust_points")

    def has_change_status_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("members.change_member")

    def has_view_ledger_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("ledger.view_entry")

    def _member(self, request: HttpRequest, object_id: str) -> Member:
        member = self.get_object(request, object_id)
        if member is None:
            raise Http404(gettext("Not found."))
        return member

    def _page(self, request, member, template, **context) -> TemplateResponse:
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": member,
            "member": member,
            "change_url": reverse("admin:members_member_change", args=[member.pk]),
            **context,
        })

    @action(description=_("Adjust points"), url_path="adjust", icon="tune",
            permissions=["adjust_points"])
    def adjust_points(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._member(request, object_id)
        form = AdjustPointsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = points_adjust(
                    member=member, points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"], actor=f"staff:{request.user.pk}",
                )
            except LoyaltyError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, gettext("Adjusted by %(points)+d points; balance %(b)d.")
                                 % {"points": entry.points, "b": entry.balance_after})
                return redirect("admin:members_member_change", member.pk)
        return self._page(request, member, "members/admin/member_adjust.html", form=form,
                          title=gettext("Adjust points"))

    @action(description=_("All entries"), url_path="ledger", icon="receipt_long",
            permissions=["view_ledger"])
    def ledger(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._member(request, object_id)
        return redirect(f"{reverse('admin:ledger_entry_changelist')}?q={member.card_id}")

    def _status_change(self, request, object_id, status: str, title: str) -> HttpResponse:
        member = self._member(request, object_id)
        if request.method == "POST":
            try:
                member_set_status(member=member, status=status)
            except LoyaltyError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, gettext("Member %(card)s is now %(status)s.") % {
                    "card": member.card_id_display, "status": Member.Status(status).label.lower(),
                })
            return redirect("admin:members_member_change", member.pk)
        return self._page(request, member, "members/admin/member_status.html",
                          title=title, new_status=Member.Status(status).label,
                          becomes_active=status == Member.Status.ACTIVE)

    @action(description=_("Suspend"), url_path="suspend", icon="pause_circle",
            permissions=["change_status"])
    def suspend(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_change(request, object_id, Member.Status.SUSPENDED,
                                   gettext("Suspend member"))

    @action(description=_("Reactivate"), url_path="reactivate", icon="play_circle",
            permissions=["change_status"])
    def reactivate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_change(request, object_id, Member.Status.ACTIVE,
                                   gettext("Reactivate member"))

    @action(description=_("Deactivate"), url_path="deactivate", icon="block",
            permissions=["change_status"])
    def deactivate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_change(request, object_id, Member.Status.INACTIVE,
                                   gettext("Deactivate member"))


def member_admin_extend(
    *,
    methods: dict[str, Callable[..., Any]] | None = None,
    fieldsets: list[tuple[Any, dict[str, Any]]] = (),
    actions_detail: list[str] = (),
    action_conditions: dict[str, Callable[[Member], bool]] | None = None,
    list_display: list[str] = (),
    list_filter: list[Any] = (),
    inlines: list[type] = (),
) -> None:
    """Let another app add to the member pages from its own admin module (``members`` imports
    no consumer): ``methods`` (display fields, unfold actions, ``has_<x>_permission``) become
    methods of ``MemberAdmin``; fieldsets of the change page (their fields are read-only
    displays), detail actions (and when each shows, given the member), list columns and
    filters, inlines. Idempotent per name.
    """
    for name, method in (methods or {}).items():
        setattr(MemberAdmin, name, method)
    known = {title for title, _options in MemberAdmin.fieldsets_change}
    MemberAdmin.fieldsets_change = [
        *MemberAdmin.fieldsets_change, *(f for f in fieldsets if f[0] not in known)
    ]
    MemberAdmin.actions_detail = [
        *MemberAdmin.actions_detail, *(a for a in actions_detail
                                       if a not in MemberAdmin.actions_detail)
    ]
    MemberAdmin.action_conditions = {**MemberAdmin.action_conditions, **(action_conditions or {})}
    MemberAdmin.list_display = [
        *MemberAdmin.list_display, *(c for c in list_display if c not in MemberAdmin.list_display)
    ]
    MemberAdmin.list_filter = [
        *MemberAdmin.list_filter, *(f for f in list_filter if f not in MemberAdmin.list_filter)
    ]
    MemberAdmin.extra_inlines = [
        *MemberAdmin.extra_inlines, *(i for i in inlines if i not in MemberAdmin.extra_inlines)
    ]


# -- API keys ------------------------------------------------------------------------------


@admin.register(MerchantAPIKey)
class MerchantAPIKeyAdmin(MerchantScopedAdmin):
    """Owners create keys (the raw key is shown once), make them read-only, revoke them."""

    list_display = [
        "name", "prefix", "read_only", "rate_limit_per_minute", "revoked", "created",
        "expiry_date",
    ]
    list_filter = ["read_only", "revoked"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_keys"]

    def get_fieldsets(self, request, obj=None):
        fields = ["merchant", "name", "read_only", "rate_limit_per_minute", "expiry_date"]
        if obj is not None:
            fields += ["prefix", "revoked", "created"]
        return self.scope_fieldsets(request, [(None, {"fields": fields})])

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["prefix", "created"]
            if obj.revoked:  # a revoked key stays revoked
                readonly.append("revoked")
        return readonly

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        self.assign_merchant(request, obj, form)
        key, raw = api_key_create(
            merchant=obj.merchant, name=obj.name, read_only=obj.read_only,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        if obj.expiry_date:
            MerchantAPIKey.objects.with_scopes_disabled().filter(pk=key.pk).update(
                expiry_date=obj.expiry_date
            )
            key.expiry_date = obj.expiry_date
        _adopt(obj, key)
        self.message_user(request, format_html(
            "{} <code class='font-mono'>{}</code>",
            gettext("The new key, shown only this once. Copy it now:"), raw,
        ), messages.WARNING)

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, gettext("%(n)d key(s) revoked.") % {"n": count})


# -- the platform's own users, in the console's look ---------------------------------------

for model in (User, Group, APIKey):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass

