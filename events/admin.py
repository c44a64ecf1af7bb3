"""The console's webhook pages (Owners only): endpoints, and the delivery log.

An endpoint's page shows its secret (behind a disclosure), and actions to send a test event,
rotate the secret, open its delivery log, and turn it back on after it was disabled for
failing, which both the list and the page announce. The log lists every attempt (number,
time, status, latency, the start of the answer), filters by endpoint and by outcome, and
resends deliveries. Everything goes through ``events.services``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from loyaltysite.errors import LoyaltyError
from members.admin import MerchantScopedAdmin, OperatorOnlyMixin, _adopt

from . import services
from .forms import WebhookEndpointForm
from .models import Delivery, DeliveryAttempt, WebhookEndpoint
from .selectors import EVENT_ID

ENDPOINT_LABELS = {"active": "success", "failing": "warning", "disabled": "danger"}
OUTCOME_LABELS = {"ok": "success", "failed": "danger"}


def _log_url(endpoint_id: int | None = None, failures: bool = False) -> str:
    url = reverse("admin:events_deliveryattempt_changelist")
    query = []
    if endpoint_id is not None:
        query.append(f"endpoint__id__exact={endpoint_id}")
    if failures:
        query.append("outcome=failed")
    return f"{url}?{'&'.join(query)}" if query else url


def _disabled_notice(endpoint: WebhookEndpoint) -> str:
    return gettext(
        "%(endpoint)s is disabled since %(when)s: %(reason)s Fix the receiver, send a test "
        "event, then turn the endpoint back on (Enable)."
    ) % {
        "endpoint": endpoint, "when": endpoint.disabled_at.strftime("%Y-%m-%d %H:%M UTC"),
        "reason": endpoint.disabled_reason,
    }


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(MerchantScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "types", "state", "failing_since", "log_link"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    actions_detail = ["send_test", "rotate_secret", "enable", "delivery_log"]
    fieldsets = [
        (None, {"fields": ["merchant", "url", "description", "event_types", "is_active"]}),
    ]
    fieldsets_change_extra = [
        (_("Signing"), {"fields": ["secret_display", "previous_secret_expires_at"]}),
        (_("Health"), {"fields": [
            "failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at",
        ]}),
    ]

    def get_fieldsets(self, request, obj=None):
        extra = self.fieldsets_change_extra if obj is not None else []
        return self.scope_fieldsets(request, [*self.fieldsets, *extra])

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for _title, opts in self.fieldsets_change_extra for f in opts["fields"]]

    @display(description=_("Events"))
    def types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) if obj.event_types else gettext("All")

    @display(description=_("State"), label=ENDPOINT_LABELS)
    def state(self, obj: WebhookEndpoint) -> tuple[str, str]:
        if not obj.is_active:
            return "disabled", gettext("Disabled")
        if obj.failing_since:
            return "failing", gettext("Failing")
        return "active", gettext("Active")

    @display(description=_("Delivery log"))
    def log_link(self, obj: WebhookEndpoint) -> str:
        return format_html('<a class="text-primary-600" href="{}">{}</a>', _log_url(obj.pk),
                           gettext("Log"))

    @display(description=_("Secret"))
    def secret_display(self, obj: WebhookEndpoint) -> str:
        # A disclosure, so the secret is not on screen until asked for (no JavaScript).
        return format_html(
            "<details><summary>{}</summary><code class='font-mono break-all'>{}</code>"
            "</details>", gettext("Show the signing secret"), obj.secret,
        )

    # -- saving through the services -----------------------------------------------------
    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.ENDPOINT_FIELDS
                  if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in fields.items()
                       if name in form.changed_data}
            _adopt(obj, services.endpoint_update(endpoint=obj, **changed))
            return
        self.assign_merchant(request, obj, form)
        _adopt(obj, services.endpoint_create(merchant=obj.merchant_id, **fields))

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint)

    # -- notices -------------------------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for endpoint in self.get_queryset(request).filter(disabled_at__isnull=False,
                                                              is_active=False):
                messages.warning(request, _disabled_notice(endpoint))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = self.get_object(request, object_id) if request.method == "GET" else None
        if endpoint is not None and not endpoint.is_active and endpoint.disabled_at:
            messages.warning(request, _disabled_notice(endpoint))
        return super().change_view(request, object_id, form_url, extra_context)

    # -- actions -------------------------------------------------------------------------
    def _endpoint(self, request: HttpRequest, object_id: str) -> WebhookEndpoint:
        endpoint = self.get_object(request, object_id)
        if endpoint is None:
            raise Http404(gettext("Not found."))
        return endpoint

    def _confirm(self, request, endpoint, *, title: str, text: str) -> TemplateResponse:
        return TemplateResponse(request, "events/admin/confirm.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": endpoint,
            "title": title, "text": text,
            "change_url": reverse("admin:events_webhookendpoint_change", args=[endpoint.pk]),
        })

    def _done(self, endpoint: WebhookEndpoint) -> HttpResponse:
        return redirect("admin:events_webhookendpoint_change", endpoint.pk)

    @action(description=_("Send test event"), url_path="send-test", icon="send",
            permissions=["change"])
    def send_test(self, request: HttpRequest, object_id: str) -> HttpResponse:
        endpoint = self._endpoint(request, object_id)
        if request.method != "POST":
            text = gettext("A webhook.test event is sent to %(url)s, signed, retried and "
                           "logged like any other.") % {"url": endpoint.url}
            return self._confirm(request, endpoint, title=gettext("Send a test event"),
                                 text=text)
        services.endpoint_send_test(endpoint=endpoint)
        messages.success(request, format_html(
            "{} <a class='underline' href='{}'>{}</a>",
            gettext("Test event queued."), _log_url(endpoint.pk),
            gettext("See the delivery log."),
        ))
        return self._done(endpoint)

    @action(description=_("Rotate secret"), url_path="rotate-secret", icon="key",
            permissions=["change"])
    def rotate_secret(self, request: HttpRequest, object_id: str) -> HttpResponse:
        endpoint = self._endpoint(request, object_id)
        if request.method != "POST":
            return self._confirm(request, endpoint, title=gettext("Rotate the signing secret"),
                                 text=gettext(
                "A new secret signs every request; for 24 hours the current one signs too, "
                "so the receiver can switch without missing a delivery."))
        services.endpoint_rotate_secret(endpoint=endpoint)
        messages.success(request, gettext(
            "New secret in force (under Signing); the old one also signs for 24 hours."))
        return self._done(endpoint)

    @action(description=_("Enable"), url_path="enable", icon="play_circle",
            permissions=["change"])
    def enable(self, request: HttpRequest, object_id: str) -> HttpResponse:
        endpoint = self._endpoint(request, object_id)
        if request.method != "POST":
            return self._confirm(request, endpoint, title=gettext("Enable the endpoint"),
                                 text=gettext("New events are sent to %(url)s again.")
                                 % {"url": endpoint.url})
        try:
            services.endpoint_enable(endpoint=endpoint)
        except LoyaltyError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, gettext("The endpoint is active again."))
        return self._done(endpoint)

    @action(description=_("Delivery log"), url_path="log", icon="receipt_long",
            permissions=["view"])
    def delivery_log(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return redirect(_log_url(self._endpoint(request, object_id).pk))

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        endpoint = self.get_queryset(request).filter(pk=object_id).first() if (
            object_id and str(object_id).isascii() and str(object_id).isdigit()) else None
        if endpoint is None or not endpoint.is_active:
            return actions
        return [a for a in actions if not a.action_name.endswith("_enable")]


class OutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("failed", _("Failures")), ("ok", _("Successes"))]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(succeeded=False)
        if self.value() == "ok":
            return queryset.filter(succeeded=True)
        return queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(MerchantScopedAdmin):
    """The delivery log: read-only; the one action resends deliveries."""

    list_display = [
        "started_at", "number", "endpoint", "event_type", "event_id", "outcome", "latency",
        "answer",
    ]
    list_filter = [OutcomeFilter, "endpoint"]
    list_select_related = ["endpoint", "delivery__event"]
    # An event id (``evt_...``, as receivers log it) is found exactly: it is stored as a uuid.
    search_fields = ["delivery__event__type"]
    search_help_text = _("An event type, or an event id (evt_...).")
    actions = ["resend_selected"]
    actions_detail = ["resend"]
    fieldsets = [
        (None, {"fields": ["endpoint", "event_type", "event_id", "delivery_status"]}),
        (_("Attempt"), {"fields": [
            "number", "started_at", "outcome", "latency", "error", "response_excerpt",
        ]}),
    ]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f for _title, opts in self.fieldsets for f in opts["fields"]]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if EVENT_ID.fullmatch(term):
            return queryset.filter(delivery__event__event_id=term), False
        return super().get_search_results(request, queryset, search_term)

    @display(description=_("Event"))
    def event_type(self, obj: DeliveryAttempt) -> str:
        return obj.delivery.event.type

    @display(description=_("Event id"))
    def event_id(self, obj: DeliveryAttempt) -> str:
        return obj.delivery.event.event_id

    @display(description=_("Status"), label=OUTCOME_LABELS)
    def outcome(self, obj: DeliveryAttempt) -> tuple[str, str]:
        text = str(obj.status_code) if obj.status_code is not None else gettext("no answer")
        return ("ok" if obj.succeeded else "failed"), text

    @display(description=_("Latency"), ordering="latency_ms")
    def latency(self, obj: DeliveryAttempt) -> str:
        return f"{obj.latency_ms} ms"

    @display(description=_("Answer"))
    def answer(self, obj: DeliveryAttempt) -> str:
        """The start of the receiver's answer; without one, why there was none."""
        text = obj.response_excerpt or obj.error
        return text if len(text) <= 80 else f"{text[:79]}…"

    @display(description=_("Delivery"))
    def delivery_status(self, obj: DeliveryAttempt) -> str:
        return obj.delivery.get_status_display()

    def has_resend_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("events.resend_delivery")

    @admin.action(description=_("Resend the deliveries of the selected attempts"),
                  permissions=["resend"])
    def resend_selected(self, request: HttpRequest, queryset) -> None:
        ids = set(queryset.values_list("delivery_id", flat=True))
        deliveries = list(Delivery.objects.filter(pk__in=ids).order_by("pk"))
        count = services.deliveries_resend(deliveries=deliveries)
        self.message_user(request, ngettext(
            "%(n)d delivery queued again.", "%(n)d deliveries queued again.", count,
        ) % {"n": count})

    @action(description=_("Resend"), url_path="resend", icon="replay", permissions=["resend"])
    def resend(self, request: HttpRequest, object_id: str) -> HttpResponse:
        attempt = self.get_object(request, object_id)
        if attempt is None:
            raise Http404(gettext("Not found."))
        if request.method != "POST":
            return TemplateResponse(request, "events/admin/confirm.html", {
                **self.admin_site.each_context(request), "opts": self.opts,
                "original": attempt, "title": gettext("Resend delivery"),
                "text": gettext("%(type)s %(id)s is sent to %(url)s again, with a fresh round "
                                "of retries.") % {"type": attempt.delivery.event.type,
                                                  "id": attempt.delivery.event.event_id,
                                                  "url": attempt.endpoint.url},
                "change_url": reverse("admin:events_deliveryattempt_change",
                                      args=[attempt.pk]),
            })
        services.delivery_resend(delivery=attempt.delivery)
        messages.success(request, gettext("Delivery queued again."))
        return redirect(_log_url(attempt.endpoint_id))


# The task queue is the platform's, across merchants: the operator's, in the console's look.
if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(OperatorOnlyMixin, DBTaskResultAdmin, ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
