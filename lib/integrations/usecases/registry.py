"""Which orgs exist: an org exists when it was registered, i.e. it has API keys (live or revoked) in the system of
record. The status cache is never asked, so reads keep working while it is down."""

from __future__ import annotations

from ..deps import Deps
from ..domain import check_slug
from ..errors import Code, IntegrationError


def is_registered(deps: Deps, org_slug: str) -> bool:
    """True when the org was registered (it has at least one API key, revoked ones included)."""
    return bool(deps.store.api_keys(org_slug))


def registered(deps: Deps) -> list[str]:
    """Every registered org's slug, sorted, in one store query."""
    return sorted({k.org_slug for k in deps.store.api_keys()})


def require(deps: Deps, org_slug: str) -> str:
    """The slug, checked; ORG_NOT_FOUND unless the system of record has the org."""
    org_slug = check_slug(org_slug)
    if org_slug not in deps.known_orgs:
        if not is_registered(deps, org_slug):
            raise IntegrationError(
                Code.ORG_NOT_FOUND,
                f"No organization {org_slug!r}; register it with `integrations org create {org_slug}`.",
            )
        deps.known_orgs.add(org_slug)
    return org_slug
