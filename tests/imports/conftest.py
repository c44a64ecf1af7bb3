"""Fixtures of the import and export suite: CSV files and the console's two import steps."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import Member

MEMBER_COLUMNS = ["external_id", "email", "name", "birthday", "program", "balance"]


def csv_file(rows: list[dict], columns: list[str] = MEMBER_COLUMNS) -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return SimpleUploadedFile("members.csv", out.getvalue().encode(), content_type="text/csv")


def csv_format_index(model=Member) -> str:
    formats = admin.site._registry[model].get_import_formats()
    return str(next(i for i, f in enumerate(formats) if f.__name__ == "CSV"))


def dry_run(client, rows, *, model=Member, columns=MEMBER_COLUMNS):
    """The console's first step: upload, read every row, write nothing."""
    opts = model._meta
    return client.post(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_import"),
        {"import_file": csv_file(rows, columns), "format": csv_format_index(model),
         "resource": "0"},
    )


def confirm(client, response, *, model=Member):
    """The second step: confirm what the dry run showed."""
    form = response.context["confirm_form"]
    opts = model._meta
    return client.post(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_process_import"),
        {name: form.initial.get(name, "") for name in form.fields},
    )


def import_members(client, rows, *, model=Member, columns=MEMBER_COLUMNS):
    response = dry_run(client, rows, model=model, columns=columns)
    assert response.status_code == 200
    assert response.context.get("confirm_form") is not None, _errors(response)
    return confirm(client, response, model=model)


def _errors(response) -> list:
    result = response.context.get("result")
    if result is None:
        return ["no result", response.content.decode()[:2000]]
    return [(r.number, r.error_dict) for r in result.invalid_rows] + [
        str(e.error) for row in result.row_errors() for e in row[1]
    ]


@pytest.fixture
def rows():
    return [
        {"external_id": "C-1", "email": "ada@example.com", "name": "Ada", "balance": "120"},
        {"external_id": "C-2", "email": "bob@example.com", "name": "Bob",
         "birthday": "1990-04-01", "balance": "0"},
        {"external_id": "C-3", "name": "Cy", "balance": "75"},
    ]
