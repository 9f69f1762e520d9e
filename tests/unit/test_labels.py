"""What people read for the enums' values: one mapping, derived from the enums (issue 27: raw enum names)."""

from __future__ import annotations

from enum import StrEnum

import pytest
from integrations import CredentialKind, Provider, Status
from integrations.labels import ENUMS, LABELS, _build, label


def test_every_value_of_every_enum_has_its_label() -> None:
    assert {m.value for e in ENUMS for m in e} == set(LABELS)
    assert label(Status.NOT_CONFIGURED) == label("NOT_CONFIGURED") == "Not configured"
    assert label(CredentialKind.API) == CredentialKind.API.label == "API key"  # a member's own label wins
    assert [label(p) for p in Provider] == [p.label for p in Provider]
    assert label("ORG_KEY") == "Org key" and label("PENDING_FIRST_DATA") == "Pending first data"


def test_anything_else_is_shown_as_it_is() -> None:
    assert label("Drift") == "Drift" and label("INVALID_CREDENTIAL") == "INVALID_CREDENTIAL" and label(None) == "—"


def test_one_value_never_gets_two_labels() -> None:
    class Clash(StrEnum):
        API = "API"  # "Api", where CredentialKind says "API key"

    with pytest.raises(ValueError, match="API"):
        _build((CredentialKind, Clash))
