"""A credential's kind, read from its format, and what each kind can do for cost tracking."""

from __future__ import annotations

from pydantic import SecretStr

from ..domain import Capability, CredentialKind, Provider

# Longest prefix first: sk-admin- and sk-proj- are also sk-.
_PREFIXES: dict[Provider, tuple[tuple[str, CredentialKind], ...]] = {
    Provider.OPENAI: (
        ("sk-admin-", CredentialKind.ADMIN),
        ("sk-proj-", CredentialKind.PROJECT),
        ("sk-svcacct-", CredentialKind.SERVICE_ACCOUNT),
        ("sk-", CredentialKind.USER),
    ),
    Provider.ANTHROPIC: (
        ("sk-ant-admin", CredentialKind.ADMIN),
        ("sk-ant-", CredentialKind.API),
    ),
}

ADMIN_KEY_HOWTO = {
    Provider.OPENAI: "an organization owner creates one at platform.openai.com > Settings > Organization > "
    "Admin keys (sk-admin-...), with read access to Usage",
    Provider.ANTHROPIC: "an organization admin creates one in the Claude Console > Settings > Admin keys "
    "(sk-ant-admin01-...); Admin keys are not available to individual accounts",
}


def kind_of(provider: Provider, text: str) -> CredentialKind | None:
    """The kind a key (or its hint, which keeps the prefix) has; GCP keys are service accounts."""
    if provider == Provider.GCP:
        return CredentialKind.SERVICE_ACCOUNT
    return next((kind for prefix, kind in _PREFIXES[provider] if text.startswith(prefix)), None)


def inference_capabilities(provider: Provider) -> list[Capability]:
    """A VALID inference key: it can call models; cost tracking needs an Admin key (information, not failure)."""
    return [
        Capability(name="inference", status="passed", detail=f"The key can call {provider.label}'s models."),
        Capability(
            name="cost data",
            status="not available",
            detail=f"Inference keys cannot read the organization's costs. Cost tracking needs an {provider.label} "
            f"Admin key: {ADMIN_KEY_HOWTO[provider]}; set it up in place of this key.",
        ),
    ]


def admin_capabilities(provider: Provider) -> list[Capability]:
    """A VALID Admin key: it reads the organization's costs and cannot call models."""
    return [
        Capability(
            name="inference",
            status="not available",
            detail=f"{provider.label} Admin keys call only the administration API, not the models.",
        ),
        Capability(name="cost data", status="passed", detail="The key read the organization's cost report."),
    ]


def known_prefix(provider: Provider, text: str) -> str | None:
    """The public prefix a key starts with (sk-proj-, sk-ant-admin, ...), if any: safe to show, it names the kind."""
    if provider == Provider.GCP:
        return None
    return next((prefix for prefix, _ in _PREFIXES[provider] if text.startswith(prefix)), None)


def rejected_hint(provider: Provider, secret: SecretStr) -> str:
    """What may be said of a key refused by its format, never any of its secret part: the kind its prefix names
    (a public prefix such as sk-proj-) or none, and its length."""
    text = secret.get_secret_value().strip()
    if provider == Provider.GCP:
        shape = "JSON object" if text.startswith("{") else "not a JSON object"
        return f"{shape}, {len(text)} characters"
    kind, prefix = kind_of(provider, text), known_prefix(provider, text)
    named = f"starts with {prefix} ({kind.label})" if prefix and kind else "no known key prefix"
    return f"{named}, {len(text)} characters"
