"""What people read for the enums' values: "Not configured", "API key", "Google Cloud". One mapping, derived from
the enums (a member's own `label` where it has one, else its name in words), used by the console and the CLI's
text. Data, filters, selections, REST and `--json` keep the canonical values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from .domain import Action, CredentialKind, DataStatus, Outcome, Provider, Status

ENUMS: tuple[type[StrEnum], ...] = (Status, CredentialKind, Provider, DataStatus, Action, Outcome)


def _words(member: StrEnum) -> str:
    """A member's own label (Provider, CredentialKind), else its value in words: NOT_CONFIGURED -> Not configured."""
    own = getattr(member, "label", None)
    return own if isinstance(own, str) else member.value.replace("_", " ").capitalize()


def _build(enums: Iterable[type[StrEnum]]) -> Mapping[str, str]:
    labels: dict[str, str] = {}
    for enum in enums:
        for member in enum:
            said = _words(member)
            if labels.setdefault(member.value, said) != said:  # one value, one label, whichever enum it comes from
                raise ValueError(f"{member.value} is labelled both {labels[member.value]!r} and {said!r}")
    return MappingProxyType(labels)


LABELS: Mapping[str, str] = _build(ENUMS)


def label(value: object) -> str:
    """The label of an enum value (a member or its canonical string); anything else as it is, None as "—"."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    text = value.value if isinstance(value, StrEnum) else str(value)
    return LABELS.get(text, text)
