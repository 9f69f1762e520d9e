"""The 2026 key families in one table: each prefix -> provider, kind, what the key can do, its probe and who
creates it (../shared/reference/providers.md, "Key families 2026").

A key is placed in its family by prefix before any network call. A key of the wrong kind for what is asked (cost
data from an inference key, anything from a subscription token) is refused there, with a sentence naming the right
key and who can create it. Where the prefix is shared or unpublished (`sk-ant-api01-`: an Enterprise Admin key or
an old developer key) the family says so and only the probe decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from ..domain import Capability, CredentialKind, Provider
from ..errors import Code, IntegrationError

Need = Literal["inference", "cost data"]  # what is asked of a key: the Capability names
Can = Literal["yes", "no", "probe"]  # "probe": the prefix does not decide, the live check does

# Probes (the checklist line each writes); all are unbilled GETs.
MODELS = "models.list"
COST_PROBE = "cost report (7 days)"
ENTERPRISE_PROBE = "enterprise analytics (1 day)"

OPENAI_ADMIN_HOWTO = (
    "an organization owner creates one at platform.openai.com > Settings > Organization > Admin keys (sk-admin-...), "
    "with read access to Usage"
)
ANTHROPIC_ADMIN_HOWTO = (
    "an organization admin creates one in the Claude Console > Settings > Admin keys (sk-ant-admin01-...); Admin "
    "keys are not available to individual accounts"
)
OPENAI_API_HOWTO = "a project member creates one at platform.openai.com > API keys (sk-proj-...)"
ANTHROPIC_API_HOWTO = "a workspace member creates one in the Claude Console > API keys (sk-ant-api03-...)"
GCP_HOWTO = (
    "a project owner creates a service account with BigQuery Data Viewer on the billing export dataset and "
    "downloads its JSON key (IAM & Admin > Service accounts > Keys), or connects keyless"
)
ADMIN_KEY_HOWTO = {Provider.OPENAI: OPENAI_ADMIN_HOWTO, Provider.ANTHROPIC: ANTHROPIC_ADMIN_HOWTO}
_RIGHT_KEY: dict[tuple[Provider, Need], str] = {
    (Provider.OPENAI, "cost data"): f"an OpenAI Admin key: {OPENAI_ADMIN_HOWTO}",
    (Provider.ANTHROPIC, "cost data"): f"an Anthropic Admin key: {ANTHROPIC_ADMIN_HOWTO}",
    (Provider.GCP, "cost data"): f"a Google Cloud service-account key file: {GCP_HOWTO}",
    (Provider.OPENAI, "inference"): f"an OpenAI project key: {OPENAI_API_HOWTO}",
    (Provider.ANTHROPIC, "inference"): f"an Anthropic API key: {ANTHROPIC_API_HOWTO}",
    (Provider.GCP, "inference"): f"a Google Cloud service-account key file: {GCP_HOWTO}",
}


@dataclass(frozen=True)
class KeyFamily:
    """One row of the table. `kind` None: the prefix is shared and the probe decides the kind."""

    prefix: str
    provider: Provider
    kind: CredentialKind | None
    name: str
    inference: Can
    cost_data: Can
    probe: str | None  # None: no probe can make this key useful here (refused before any call)

    def can(self, need: Need) -> Can:
        return self.inference if need == "inference" else self.cost_data

    @property
    def usable(self) -> bool:
        return self.probe is not None


# Longest prefix first within a provider: sk-admin- and sk-proj- are also sk-.
FAMILIES: tuple[KeyFamily, ...] = (
    KeyFamily("sk-admin-", Provider.OPENAI, CredentialKind.ADMIN, "a Platform Admin key", "no", "yes", COST_PROBE),
    KeyFamily("sk-proj-", Provider.OPENAI, CredentialKind.PROJECT, "a project key", "yes", "no", MODELS),
    KeyFamily(
        "sk-svcacct-", Provider.OPENAI, CredentialKind.SERVICE_ACCOUNT, "a service-account key", "yes", "no", MODELS
    ),
    KeyFamily("sk-", Provider.OPENAI, CredentialKind.USER, "a legacy user key", "yes", "no", MODELS),
    KeyFamily(
        "sk-ant-admin01-", Provider.ANTHROPIC, CredentialKind.ADMIN, "a Console Admin key", "no", "yes", COST_PROBE
    ),
    KeyFamily("sk-ant-api03-", Provider.ANTHROPIC, CredentialKind.API, "a developer API key", "yes", "probe", MODELS),
    KeyFamily(
        "sk-ant-api01-",
        Provider.ANTHROPIC,
        None,
        "an Enterprise Admin key (by probe)",
        "probe",
        "probe",
        ENTERPRISE_PROBE,
    ),
    KeyFamily("sk-ant-oat01-", Provider.ANTHROPIC, None, "a Claude subscription OAuth token", "no", "no", None),
    KeyFamily("sk-ant-", Provider.ANTHROPIC, CredentialKind.API, "an API key", "yes", "no", MODELS),
    KeyFamily("{", Provider.GCP, CredentialKind.SERVICE_ACCOUNT, "a service-account key file", "no", "yes", "token"),
    KeyFamily("AIza", Provider.GCP, None, "a Google API key", "no", "no", None),
)


def family_of(provider: Provider, text: str) -> KeyFamily | None:
    """The family a key (or its hint, which keeps the prefix) belongs to; None when no prefix matches."""
    text = text.lstrip()
    return next((f for f in FAMILIES if f.provider == provider and text.startswith(f.prefix)), None)


def kind_of(provider: Provider, text: str) -> CredentialKind | None:
    """The kind a key (or its hint) has by its prefix; GCP keys are service accounts."""
    if provider == Provider.GCP:
        return CredentialKind.SERVICE_ACCOUNT
    family = family_of(provider, text)
    return family.kind if family else None


def refuse_wrong_kind(provider: Provider, key: str | SecretStr, need: Need | None = None) -> KeyFamily | None:
    """WRONG_KEY_KIND, before any network call, for a key that cannot do what is asked (`need`; None: anything
    at all): names the key, what it cannot do, the right key and who creates it. Returns the key's family."""
    text = key.get_secret_value() if isinstance(key, SecretStr) else key
    family = family_of(provider, text)
    if family is None:
        return None
    wanted: Need | None = need
    if not family.usable:
        wanted = need or ("cost data" if family.inference == "no" else "inference")
    elif need is None or family.can(need) != "no":
        return family
    assert wanted is not None
    what = "read the organization's costs" if wanted == "cost data" else "call the models"
    raise IntegrationError(
        Code.WRONG_KEY_KIND,
        f"This {provider.label} key ({family.prefix}...) is {family.name}: it cannot {what}. Use "
        f"{_RIGHT_KEY[(provider, wanted)]}.",
        fix=f"Use {_RIGHT_KEY[(provider, wanted)]}.",  # this provider's key, not the catalog's list of three
    )


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


def rejected_hint(provider: Provider, secret: SecretStr) -> str:
    """What may be said of a key refused by its format, never any of its secret part: the kind its prefix names
    (a public prefix such as sk-proj-) or none, and its length."""
    text = secret.get_secret_value().strip()
    if provider == Provider.GCP:
        shape = "JSON object" if text.startswith("{") else "not a JSON object"
        return f"{shape}, {len(text)} characters"
    # the longest prefix that matches names the key, another provider's too (an OpenAI key pasted as Anthropic's)
    matches = [f for f in FAMILIES if f.provider != Provider.GCP and text.startswith(f.prefix)]
    family = max(matches, key=lambda f: len(f.prefix), default=None)
    if family is None or family.kind is None:
        return f"no known key prefix, {len(text)} characters"
    whose = "" if family.provider == provider else f"{family.provider.label} "
    return f"starts with {family.prefix} ({whose}{family.kind.label}), {len(text)} characters"
