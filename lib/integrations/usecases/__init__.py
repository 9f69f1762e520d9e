"""The use cases: small modules of functions over `Deps`. IntegrationService is a thin facade over them."""
