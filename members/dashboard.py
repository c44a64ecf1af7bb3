"""The console's dashboard (django-unfold): headline figures for the staff user's merchant."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from ledger.models import Entry

from .models import Member, Program


def dashboard_callback(request, context):
    members = Member.objects.all()
    figures = members.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=Member.Status.ACTIVE)),
        outstanding=Coalesce(Sum("balance"), 0),
        pending=Coalesce(Sum("pending_points"), 0),
        reserved=Coalesce(Sum("reserved_points"), 0),
    )
    programs = Program.objects.filter(deleted_at__isnull=True).count()
    context.update(
        {
            "kpis": [
                {"title": "Programs", "value": programs},
                {"title": "Members", "value": figures["total"]},
                {"title": "Active members", "value": figures["active"]},
                {"title": "Points outstanding", "value": figures["outstanding"]},
                {"title": "Points pending", "value": figures["pending"]},
                {"title": "Points reserved", "value": figures["reserved"]},
            ],
            "recent_entries": Entry.objects.select_related("member__customer").order_by("-id")[:10],
        }
    )
    return context


def environment_callback(request):
    return ["Development", "warning"] if settings.DEBUG else ["Production", "danger"]
