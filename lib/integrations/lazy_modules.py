"""Heavy libraries imported when first used, not when a module that may use them is imported: `integrations
--help` and `integrations status` never build a DataFrame, so they never pay pandas' import (~0.5 s of CPU).

    if TYPE_CHECKING:
        import pandas as pd
    else:
        from .lazy_modules import pandas as pd

The type checker sees the real module; at run time the first attribute read (`pd.DataFrame`) imports it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported at its first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{'' if self._module is None else ' (loaded)'}>"


pandas = LazyModule("pandas")
