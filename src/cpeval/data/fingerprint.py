"""The sha256 of an in-memory DataFrame, from its columns' bytes (no text rendering).

Definition (version 1), so that anyone can recompute it: sha256 over, in order,
``b"cpeval-frame-v1\\0"``, then ``"<rows>x<columns>\\0"``, then for each column in order:
its name (``str``) and dtype (``str``), each UTF-8 and followed by ``\\0``; then its values:
- numbers, booleans, dates and durations: the little-endian bytes of the column's numpy array
  (dates and durations as their int64 counts in the unit their dtype names, e.g. ``datetime64[us]``);
- anything else (strings, categories, mixed objects): a missing-value mask (one byte per row, 1 = missing),
  then the values as ``str`` joined by ``\\x1f`` and encoded as UTF-8 (missing values as the empty string).
The row index is not part of the fingerprint. The same frame gives the same digest on every machine and run;
it differs from the sha256 of a file holding the same data (that one hashes the file's bytes).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_BINARY_KINDS = "biufcmM"


def frame_sha256(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(b"cpeval-frame-v1\0")
    digest.update(f"{frame.shape[0]}x{frame.shape[1]}\0".encode())
    for name, column in frame.items():
        digest.update(f"{name}\0{column.dtype}\0".encode())
        values = column.to_numpy()
        if values.dtype.kind in _BINARY_KINDS:
            if values.dtype.kind in "mM":
                values = values.view("int64")
            # the array's buffer itself (no copy when it is already contiguous and little-endian)
            digest.update(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")))
        else:
            missing = column.isna().to_numpy()
            digest.update(missing.astype(np.uint8).tobytes())
            text = np.where(missing, "", column.astype(str).to_numpy())
            digest.update("\x1f".join(text.tolist()).encode())
    return digest.hexdigest()
