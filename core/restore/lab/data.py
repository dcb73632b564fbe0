"""Where training and evaluation data live: the data root.

``$RESTORE_DATA`` if set; else ``shared/data`` beside this checkout
(``<checkout>/../shared/data``, whatever the working directory); else
``../shared/data`` relative to the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "RESTORE_DATA"
_CHECKOUT = Path(__file__).resolve().parents[3]  # core/restore/lab/data.py -> the checkout
_BESIDE_CHECKOUT = _CHECKOUT.parent / "shared" / "data"


def default_data_root() -> Path:
    """The data root, as the module docstring says."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    if (_CHECKOUT / "pyproject.toml").is_file() and _BESIDE_CHECKOUT.is_dir():
        return _BESIDE_CHECKOUT
    return Path("../shared/data")
