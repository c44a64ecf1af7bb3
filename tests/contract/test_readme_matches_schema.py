"""README's API lists and error table say what the OpenAPI schema says (issue #8)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
PATH_LINE = re.compile(r"^(?P<methods>[A-Z]+(?:\|[A-Z]+)*)\s+(?P<path>/api/v1/\S*)")


def _readme_operations() -> set[tuple[str, str]]:
    operations = set()
    in_code = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = PATH_LINE.match(line) if in_code else None
        if match:
            for method in match["methods"].split("|"):
                operations.add((method, match["path"]))
    return operations


def _schema_operations(schema: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations if method.upper() in METHODS
    }


def _schema_codes(schema: dict) -> set[tuple[int, str]]:
    codes = set()
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                problem = response.get("content", {}).get("application/problem+json")
                if problem:
                    for part in problem["schema"]["allOf"][1:]:
                        codes |= {(int(status), code)
                                  for code in part["properties"]["code"]["enum"]}
    return codes


def _readme_codes() -> set[tuple[int, str]]:
    text = README.read_text()
    table = text[text.index("| code | HTTP |"):]
    table = table[:table.index("\n\n")]
    codes = set()
    for row in table.splitlines()[2:]:
        names, status = row.strip("|").split("|")
        for code in re.findall(r"`([A-Z_]+)`", names):
            codes.add((int(status.split()[0]), code))
    return codes


def test_every_operation_in_the_schema_is_in_the_readme_and_no_other(openapi_schema):
    schema_ops, readme_ops = _schema_operations(openapi_schema), _readme_operations()

    assert schema_ops - readme_ops == set(), "in the schema, missing from README"
    assert readme_ops - schema_ops == set(), "in README, not in the schema"


def test_every_error_code_the_schema_documents_is_in_readmes_table_with_its_status(
    openapi_schema,
):
    schema_codes, readme_codes = _schema_codes(openapi_schema), _readme_codes()

    assert schema_codes - readme_codes == set(), "documented by the schema, not in README"
    assert readme_codes - schema_codes == set(), "in README's table, answered by no operation"
