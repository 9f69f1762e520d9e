"""The providers this deployment offers, in one place: `domain.Provider`, the API schema, the CLI, the console, the
notebooks, the status-cache columns and the TypeScript types all read it.

A provider registers a `ProviderSpec` as `PROVIDER` in a module of `integrations.providers.specs` (found there by
name), or in any module named in `INTEGRATIONS_PROVIDER_MODULES` (comma-separated: the extension point a test or a
plugin uses without editing this package). A spec is cheap to import: its `validator` factory imports the provider's
SDK only when a check needs it. Standard library only: `domain` builds its `Provider` enum from here."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

ENV_MODULES = "INTEGRATIONS_PROVIDER_MODULES"
SPECS_PACKAGE = "integrations.providers.specs"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,30}$")  # also the status-cache column stem, lower-cased

# (settings, sandbox rules or None for the live endpoints) -> a providers.base.Validator; typed loosely here, as this
# module sits below both settings and providers (the specs type it exactly)
ValidatorFactory = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its enum value, its human name, and how a deployment builds its validator (`rules` None:
    the live endpoints; else the sandbox's rules). `order` places it in lists (lowest first)."""

    name: str
    label: str
    validator: ValidatorFactory
    order: int = 100
    aliases: tuple[str, ...] = ()  # words that name it in free text (troubleshooting search), lower-case

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"provider name {self.name!r}: upper-case letters, digits and _, 2-31 characters")

    @property
    def column(self) -> str:
        """The lower-case stem of its status-cache columns."""
        return self.name.lower()

    @property
    def status_column(self) -> str:
        return f"integration_{self.column}_status"

    @property
    def configured_column(self) -> str:
        return f"integration_{self.column}_configured_at"


def _spec_of(module_name: str) -> ProviderSpec:
    spec = getattr(importlib.import_module(module_name), "PROVIDER", None)
    if not isinstance(spec, ProviderSpec):
        raise ImportError(f"{module_name} registers no provider: it defines no PROVIDER = ProviderSpec(...)")
    return spec


def _module_names() -> list[str]:
    package = importlib.import_module(SPECS_PACKAGE)
    found = [f"{SPECS_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    extra = [m.strip() for m in os.environ.get(ENV_MODULES, "").split(",") if m.strip()]
    return found + [m for m in extra if m not in found]


@cache
def specs() -> tuple[ProviderSpec, ...]:
    """Every registered provider, in order (read once per process)."""
    by_name: dict[str, ProviderSpec] = {}
    for module_name in _module_names():
        spec = _spec_of(module_name)
        if spec.name in by_name:
            raise ValueError(f"provider {spec.name} is registered twice (again by {module_name})")
        by_name[spec.name] = spec
    return tuple(sorted(by_name.values(), key=lambda s: s.order))


def names() -> list[str]:
    return [s.name for s in specs()]


def spec(name: Any) -> ProviderSpec:
    """The spec of a registered provider (`name`: its enum member or value)."""
    return next(s for s in specs() if s.name == str(name))
