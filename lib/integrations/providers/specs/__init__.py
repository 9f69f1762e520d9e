"""One module per provider, each defining `PROVIDER = ProviderSpec(...)` (provider_registry.py finds them here).
Cheap to import: a spec's validator factory imports the provider's SDK when it is called."""
