"""The analytics exports in the console: every dashboard table as CSV.

``/admin/analytics/programday/export/<program>/<table>.csv?period=90`` answers one table of
one program; ``.../export/programs.csv`` the program overview. Staff only (the admin site's
login), with the ``analytics.view_programday`` permission (Owners and Managers), and scoped to
the staff user's merchant: another merchant's program answers 404, as one that does not exist.
The daily figures themselves are not listed in the console (the dashboard shows them).
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.text import slugify

from members.admin import MerchantScopedAdmin
from members.models import Program

from .dashboard import period_from
from .models import ProgramDay
from .selectors import live_programs, program_analytics, program_standing
from .tables import Table, analytics_tables, csv_cell, programs_table

EXPORT_PERMISSION = "analytics.view_programday"


def csv_response(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.headers)
    writer.writerows([csv_cell(cell) for cell in row] for row in table.rows)
    return response


@admin.register(ProgramDay)
class AnalyticsAdmin(MerchantScopedAdmin):
    """Carries the export views; the model itself stays off the console's menu."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/programs.csv", view(self.export_programs),
                 name="analytics_export_programs"),
            path("export/<int:program_id>/<slug:table>.csv", view(self.export),
                 name="analytics_export"),
            *super().get_urls(),
        ]

    def _check(self, request: HttpRequest) -> None:
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied

    def programs(self, request: HttpRequest):
        programs = Program.objects.filter(deleted_at__isnull=True)
        if self.is_operator(request):
            return programs
        merchant_id = self.staff_merchant_id(request)
        return programs.filter(merchant_id=merchant_id) if merchant_id else programs.none()

    def export(self, request: HttpRequest, program_id: int, table: str) -> HttpResponse:
        self._check(request)
        program = get_object_or_404(self.programs(request), pk=program_id)
        period = period_from(request.GET.get("period"))
        tables = analytics_tables(program_analytics(program=program, days=period))
        if table not in tables:
            raise Http404
        name = f"{slugify(program.name) or program.pk}-{table}-{period}d.csv"
        return csv_response(tables[table], name)

    def export_programs(self, request: HttpRequest) -> HttpResponse:
        self._check(request)
        allowed = {p.pk for p in self.programs(request)}
        standings = [program_standing(program=p) for p in live_programs() if p.pk in allowed]
        return csv_response(programs_table(standings), "programs.csv")
