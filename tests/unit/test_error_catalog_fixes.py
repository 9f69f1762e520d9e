"""Issue 27 (#11): the catalog's fixes name no placeholder an operator would type literally, and an error can carry
the fix for its very case (the org at hand) instead of the catalog's first."""

from __future__ import annotations

import re

from integrations.errors import CATALOG, Code, IntegrationError


def test_no_fix_tells_to_type_a_placeholder_slug() -> None:
    for entry in CATALOG.values():
        for fix in entry.fixes:
            assert not re.search(r"\bSLUG\b", fix), (entry.code, fix)


def test_an_error_carries_its_own_fix_else_the_catalogs_first() -> None:
    plain = IntegrationError(Code.ORG_EXISTS)
    assert plain.hint == CATALOG[Code.ORG_EXISTS].fixes[0] and plain.to_json()["hint"] == plain.hint
    own = IntegrationError(Code.ORG_EXISTS, fix="Run `integrations org key rotate acmecorp`.")
    assert own.to_json()["hint"] == "Run `integrations org key rotate acmecorp`."


def test_retiring_a_key_version_has_codes_for_unknown_and_already_retired() -> None:
    assert CATALOG[Code.KEY_VERSION_NOT_FOUND].http_status == 404
    assert "rotate" not in " ".join(CATALOG[Code.KEY_VERSION_ALREADY_RETIRED].fixes)
