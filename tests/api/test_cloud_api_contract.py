"""The server keeps the public API contract (../shared/reference/cloud-api.yaml): every path and
method, every response status it documents for success, and every property of its schemas.
Additions are fine; a removal or rename fails here."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ckrv.server.apidocs.openapi import document
from tests.support.helpers import ROOT
from tests.support.prerequisites import require

# beside the clone: ../shared/reference/cloud-api.yaml (CI always has it there; never copied in)
CONTRACT = ROOT.parent / "shared" / "reference" / "cloud-api.yaml"


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    require(CONTRACT.exists(), f"the shared contract is not at {CONTRACT}")
    return dict(yaml.safe_load(CONTRACT.read_text()))


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return document("http://127.0.0.1:8420/v1")


def test_every_contract_operation_exists_with_its_success_status(
    contract: dict[str, Any], ours: dict[str, Any]
) -> None:
    for path, operations in contract["paths"].items():
        assert path in ours["paths"], f"{path} is missing"
        for method, operation in operations.items():
            assert method in ours["paths"][path], f"{method.upper()} {path} is missing"
            success = [code for code in operation["responses"] if code.startswith("2")]
            for code in success:
                assert code in ours["paths"][path][method]["responses"], (
                    f"{method.upper()} {path} lost {code}"
                )


def test_every_contract_schema_property_exists(
    contract: dict[str, Any], ours: dict[str, Any]
) -> None:
    schemas = ours["components"]["schemas"]
    for name, schema in contract["components"]["schemas"].items():
        assert name in schemas, f"schema {name} is missing"
        for prop in schema.get("properties", {}):
            assert prop in schemas[name].get("properties", {}), f"{name}.{prop} is missing"
        for prop in schema.get("required", []):
            assert prop in schemas[name].get("required", []), f"{name}.{prop} is no longer required"


def test_contract_enums_are_kept(contract: dict[str, Any], ours: dict[str, Any]) -> None:
    schemas = ours["components"]["schemas"]
    for name, schema in contract["components"]["schemas"].items():
        for prop, spec in schema.get("properties", {}).items():
            if "enum" in spec:
                kept = schemas[name]["properties"][prop].get("enum", [])
                assert set(spec["enum"]) <= set(kept), f"{name}.{prop} dropped enum values"
