"""A recording fake of the alerts port: keeps every digest it was given (and the body and headers the webhook
adapter would post), delivers to the destinations it was told it reaches, and can be told to fail."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .base import AlertDelivery, Budget, Destination, Digest, body_of, headers_for, signing_secret


class Sent(NamedTuple):
    digest: Digest
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]


class RecordingSink:
    """`orgs`: the tenant orgs it reaches; `operator`: whether it reaches the operator; `master`: the signing
    master secret (posts signed as the webhook adapter signs them); `fail`: every delivery fails (an error)."""

    def __init__(
        self, orgs: set[str] | None = None, operator: bool = True, master: bytes | None = None, fail: bool = False
    ) -> None:
        self.orgs, self.operator, self.master, self.fail = set(orgs or ()), operator, master, fail
        self.sent: list[Sent] = []

    def reaches(self, destination: Destination) -> bool:
        return self.operator if destination.kind == "operator" else destination.org_slug in self.orgs

    def signing_secret(self, destination: Destination) -> str | None:
        return signing_secret(self.master, destination) if self.master is not None else None

    def deliver(self, digest: Digest, budget: Budget) -> AlertDelivery:
        result = AlertDelivery(delivered=False, flips=len(digest.items), destination=digest.destination.label)
        if not self.reaches(digest.destination) or not digest.items or budget.attempts < 1:
            return result
        result.target, result.attempts = "fake://alerts", 1
        if self.fail:
            result.error = "HTTP 500"
            return result
        raw = body_of(digest)
        secret = self.signing_secret(digest.destination)
        self.sent.append(Sent(digest, json.loads(raw), raw, headers_for(digest, raw, secret)))
        result.delivered = True
        return result
