"""Credential checks per provider: format (offline) and live (official SDKs), sandboxed or real.

Each provider registers in `providers/specs/` (provider_registry.py); which validators a deployment uses (live or
sandboxed) is decided in bootstrap.py. Importing this package imports nothing heavy: `domain` reads the specs."""
