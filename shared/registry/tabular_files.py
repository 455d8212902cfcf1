"""Reading a tabular dataset's files from storage: the shape of the data (columns and types, fixed once), the pieces
a run cuts the files into, and each piece as a DataFrame. Parsing itself is in tabular.py.

A piece is {"datastore", "container", "path", "size", "start", "end"}: a byte range of one file (the whole file for
Parquet and for `support_multi_line`). Pieces of about `mini_batch_size` bytes are grouped into mini-batches in input
order, so a 10 GB file fans out into 10 GB / mini_batch_size mini-batches and many small files share one.
"""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.core.lazy_modules import lazy
from shared.core.storage import Storage, storage_errors
from shared.registry import datastores, tabular

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy("pandas")  # imported by the first tabular read, not by the app's start

Piece = dict[str, Any]
Shape = dict[str, Any]
#: The first rows of the first file, read to find the header and infer types.
SAMPLE_BYTES = 256 * 1024


def _reader(storage: Storage, item: dict[str, Any], stores: Mapping[str, dict[str, Any]]) -> tabular.ReadRange:
    blob = datastores.container_client(storage, stores[item["datastore"]]).get_blob_client(item["path"])

    def read(offset: int, length: int | None) -> bytes:
        if length == 0:
            return b""
        with storage_errors(f"{item['datastore']}/{item['path']}"):
            return blob.download_blob(offset=offset, length=length, max_concurrency=2).readall()

    return read


def _where(item: dict[str, Any]) -> str:
    return f"file {item['datastore']}/{item['path']}"


_headers: OrderedDict[tuple[str, ...], list[str]] = OrderedDict()
_headers_lock = threading.Lock()


def file_columns(storage: Storage, spec: tabular.Spec, item: dict[str, Any], stores: Mapping[str, Any]) -> list[str]:
    """The columns of one delimited file, from its first line (cached: pieces of a file share it)."""
    key = (item["container"], item["path"], str(item["size"]), spec["header"], spec["separator"], spec["encoding"])
    with _headers_lock:
        if key in _headers:
            return _headers[key]
    columns = tabular.header_columns(
        spec, tabular.first_line(_reader(storage, item, stores), int(item["size"])), _where(item)
    )
    with _headers_lock:
        _headers[key] = columns
        while len(_headers) > 256:
            _headers.popitem(last=False)
    return columns


def _sample_end(read: tabular.ReadRange, size: int) -> int:
    """Where the first INFERENCE_ROWS rows (and the header) end: Azure ML infers types from them only."""
    head = read(0, min(size, SAMPLE_BYTES))
    position = 0
    for _ in range(tabular.INFERENCE_ROWS + 1):
        found = head.find(b"\n", position)
        if found < 0:
            return len(head)
        position = found + 1
    return position


def shape(
    storage: Storage, spec: tabular.Spec, files: list[dict[str, Any]], stores: Mapping[str, Any] | None = None
) -> Shape:
    """The columns (delimited files whose header is not per file) and the column types, from the first file.
    `stores`: the datastores by name, when the caller has them."""
    stores = datastores.by_name(storage) if stores is None else stores
    columns: list[str] | None = None
    types = spec["column_types"]
    if files and spec["format"] == "delimited" and spec["header"] != "COMBINE_ALL_FILES_HEADERS":
        columns = file_columns(storage, spec, files[0], stores)
    if types is None:
        types = {}
        if files and spec["infer_column_types"] and spec["format"] == "delimited":
            first = files[0]
            piece = {**first, "start": 0, "end": _sample_end(_reader(storage, first, stores), int(first["size"]))}
            sample = _raw_piece(storage, spec, piece, columns, stores, first_file=True)
            types = tabular.infer_types(sample)
    return {"columns": columns, "column_types": {**types, **spec["set_column_types"]}}


def _raw_piece(
    storage: Storage,
    spec: tabular.Spec,
    piece: Piece,
    columns: list[str] | None,
    stores: Mapping[str, Any],
    first_file: bool,
) -> pd.DataFrame:
    read = _reader(storage, piece, stores)
    size, where = int(piece["size"]), _where(piece)
    if spec["format"] == "parquet":
        return tabular.parse_parquet(read(0, None), where)
    offset, data = tabular.slice_bytes(read, size, int(piece["start"]), int(piece["end"]))
    where = where if offset == 0 else f"{where} (the rows from byte {offset})"
    if spec["format"] == "json_lines":
        return tabular.parse_json_lines(spec, data, where)
    header = spec["header"]
    if header == "COMBINE_ALL_FILES_HEADERS" or columns is None:
        columns = file_columns(storage, spec, piece, stores)
    has_header = header in ("ALL_FILES_HAVE_SAME_HEADERS", "COMBINE_ALL_FILES_HEADERS") or (
        header == "ONLY_FIRST_FILE_HAS_HEADERS" and first_file
    )
    return tabular.parse_delimited(spec, data, columns, where, skip_first=offset == 0 and has_header)


def read_piece(
    storage: Storage,
    spec: tabular.Spec,
    piece: Piece,
    file_shape: Shape,
    stores: Mapping[str, Any] | None = None,
    partition_format: str | None = None,
    root: str = "",
    on_error: str = "null",
    transformed: bool = True,
) -> pd.DataFrame:
    """One piece as a typed DataFrame, with the Path and partition columns asked for (and, when `transformed`, the
    transformations a piece can have on its own). As in Azure ML, the partition
    key columns come last, after the file's own columns, in partition_format's order (a file that has a column of
    the same name keeps its values, moved there)."""
    stores = datastores.by_name(storage) if stores is None else stores
    frame = _raw_piece(storage, spec, piece, file_shape["columns"], stores, bool(piece.get("first_file")))
    if partition_format:
        for name, value in (tabular.partition_values(partition_format, piece["path"]) or {}).items():
            frame[name] = frame.pop(name) if name in frame.columns else value
    frame = tabular.convert(frame, file_shape["column_types"], _where(piece), on_error)
    if spec["include_path"]:
        frame.insert(0, tabular.PATH_COLUMN, "/" + posixpath.relpath(piece["path"], root or "."))
    return tabular.column_transforms(frame, spec) if transformed else frame


def whole_files(files: list[dict[str, Any]]) -> list[Piece]:
    return [{**item, "start": 0, "end": int(item["size"]), "first_file": i == 0} for i, item in enumerate(files)]


def pieces(spec: tabular.Spec, files: list[dict[str, Any]], size: int) -> list[list[Piece]]:
    """The files cut into mini-batches of about `size` bytes, in input order: a large file is split at byte
    offsets (rows are kept whole when read, see tabular.slice_bytes), small files are grouped."""
    batches: list[list[Piece]] = []
    current: list[Piece] = []
    room = size
    for number, item in enumerate(files):
        total, start = int(item["size"]), 0
        whole = not tabular.splittable(spec)
        while start < total or (total == 0 and start == 0):
            length = total - start if whole else min(room, total - start)
            current.append({**item, "start": start, "end": start + length, "first_file": number == 0})
            start += length
            room -= length
            if room <= 0:
                batches.append(current)
                current, room = [], size
            if total == 0:
                break
    if current:
        batches.append(current)
    return batches


def read_frame(
    storage: Storage,
    spec: tabular.Spec,
    file_pieces: list[Piece],
    file_shape: Shape,
    partition_format: str | None = None,
    root: str = "",
    on_error: str = "null",
    stores: Mapping[str, Any] | None = None,
    transformed: bool = True,
) -> pd.DataFrame:
    """Pieces as one DataFrame, in order (columns united by name, as COMBINE_ALL_FILES_HEADERS asks). `stores`: the
    datastores by name, when the caller has them; `transformed`: see read_piece."""
    stores = datastores.by_name(storage) if stores is None else stores
    frames = [
        read_piece(storage, spec, piece, file_shape, stores, partition_format, root, on_error, transformed)
        for piece in file_pieces
    ]
    frames = [frame for frame in frames if len(frame.columns)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
