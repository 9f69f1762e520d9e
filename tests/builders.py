"""Small builders shared by the test suites."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from integrations.domain import Action, Event, Outcome, Provider, Status, StoredCredential, new_event_id

T0 = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)


def record(
    org: str = "acmecorp",
    provider: Provider = Provider.OPENAI,
    at: datetime = T0,
    status: Status = Status.VALID,
    key_ref: str = "test/v1",
    **fields: object,
) -> StoredCredential:
    return StoredCredential(
        credential_id=f"cred_{secrets.token_hex(6)}",
        org_slug=org,
        provider=provider,
        credential_name="Prod",
        encrypted_credential=b"\x00ciphertext\xff" + secrets.token_bytes(4),
        key_ref=key_ref,
        credential_hint="sk-proj-...abcd",
        credential_fingerprint="f" * 64,
        metadata={"environment": "production", "n": 3},
        validation_status=status,
        last_validated_at=at,
        created_at=at,
        updated_at=at,
        created_by="t",
        updated_by="t",
        **fields,
    )


def event(
    org: str = "acmecorp",
    action: Action = Action.SETUP,
    at: datetime = T0,
    offset_s: int = 0,
    credential_id: str | None = None,
) -> Event:
    return Event(
        event_id=new_event_id(),
        at=at + timedelta(seconds=offset_s),
        org_slug=org,
        provider=Provider.OPENAI,
        credential_id=credential_id,
        action=action,
        outcome=Outcome.SUCCESS,
        status_before=Status.NOT_CONFIGURED,
        status_after=Status.VALID,
        actor="tester",
        duration_ms=5,
    )
