"""Converted tables as pandas DataFrames whose dtypes follow the table contracts.

``OUT/<Table>/*.parquet`` (one file per collection) becomes one DataFrame with every collection
in it. The dtypes are those of ``contracts.Contract.pandas_dtypes``: ``datetime64[us, UTC]``,
nullable ``Int32``/``Int64``/``Float64``/``boolean``, and ``string`` for string, guid and dynamic
(JSON text) columns.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from . import contracts

if TYPE_CHECKING:
    import pandas as pd


def datasets(out: str | Path) -> dict[str, Path]:
    """Table name -> folder, for every folder of ``out`` that holds Parquet files.

    Folders whose names start with ``_`` or ``.`` are ours (``_hunt``) or hidden, not tables.
    Any other folder counts, so an analyst can drop in an IOC list or a watchlist as Parquet.
    """
    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"{out} is not a folder; give the output folder of `triageparse convert`")
    found = {}
    for folder in sorted(out.iterdir()):
        if folder.is_dir() and not folder.name.startswith(("_", ".")) and any(folder.glob("*.parquet")):
            found[folder.name] = folder
    # A conversion with --security-event-columns full writes SecurityEventFull: queries written for
    # Sentinel's SecurityEvent must still find those rows (the full table starts with the same columns).
    if "SecurityEventFull" in found and "SecurityEvent" not in found:
        found["SecurityEvent"] = found["SecurityEventFull"]
    return found


def nullable_pandas_type(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    """The pandas dtype that keeps NULL as NA for an Arrow type (``types_mapper`` of ``to_pandas``)."""
    import pandas as pd
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    if pa.types.is_integer(t):
        return pd.api.types.pandas_dtype(f"{'U' if pa.types.is_unsigned_integer(t) else ''}Int{t.bit_width}")
    if pa.types.is_floating(t):
        return pd.Float64Dtype()
    return None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with nullable dtypes, naive timestamps taken as UTC (KQL time is UTC)."""
    import pandas as pd
    frame = table.to_pandas(types_mapper=nullable_pandas_type)
    for name in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[name].dtype) and getattr(frame[name].dtype, "tz", None) is None:
            frame[name] = frame[name].dt.tz_localize("UTC")
    return frame


def _read(folder: Path | None, contract: contracts.Contract | None) -> pd.DataFrame:
    import pandas as pd   # here, not at import: `triageparse convert` never needs it
    import pyarrow.dataset as ds    # (which imports pandas too)
    if contract is None:                      # a table the analyst dropped in: its own types
        return to_pandas(ds.dataset(folder, format="parquet").to_table())
    if folder is None:
        table = contract.schema.empty_table()
    else:
        # The contract schema, not each file's: older files lacking a newer column read as NULL.
        table = ds.dataset(folder, format="parquet", schema=contract.schema).to_table()
    return to_pandas(table).astype(contract.pandas_dtypes)


def load(out: str | Path, table: str | None = None) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Load converted tables from ``out`` (the output folder of ``triageparse convert``).

    ``load(out, "SecurityEvent")`` returns one DataFrame with the rows of every collection;
    ``load(out)`` returns a dict of every contract table (empty frames, with the right dtypes, for
    tables no collection filled) plus any other Parquet dataset found in ``out``.

    dtypes follow the table contract: ``datetime`` -> ``datetime64[us, UTC]``, ``int`` -> ``Int32``,
    ``long`` -> ``Int64``, ``real`` -> ``Float64``, ``bool`` -> ``boolean``, and ``string``,
    ``guid`` and ``dynamic`` -> ``string`` (dynamic columns hold JSON text: ``json.loads`` them).

    The one difference from ADX: **a string can be null here** (``pd.NA``: the source had no value)
    **while ADX stores an empty string**, since Kusto strings are never null. Test for both, e.g.
    ``df.Account.fillna("") == ""``, to match what ``isempty(Account)`` finds in ADX.
    """
    import pandas as pd
    found = datasets(out)
    if table is not None:
        contract = contracts.all_contracts().get(table)
        if contract is None and table not in found:
            known = sorted(set(contracts.all_contracts()) | set(found))
            raise KeyError(f"no table {table!r} in {out} and no contract of that name; tables: {', '.join(known)}")
        return _read(found.get(table), contract)
    frames = {name: _read(found.get(name), c) for name, c in contracts.all_contracts().items()}
    for name, folder in found.items():
        frames.setdefault(name, _read(folder, None))
    return frames
