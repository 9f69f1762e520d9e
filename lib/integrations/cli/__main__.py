"""`python -m integrations.cli`: the `integrations` command."""

from . import main

main()
