"""Tabular datasets: how delimited, Parquet and JSON-lines files become pandas DataFrames, a file or a slice at a time.

A tabular definition is plain JSON kept in the dataset record (see `parse_spec`); it says how to read the files, the
column types, and the transformations asked for (`keep_columns`, `take`, ...). Reading is the same in the SDK
(`to_pandas_dataframe`) and in the app (a ParallelRunStep mini-batch), so both see the same rows and types.

Slices: a delimited or JSON-lines file can be read as byte ranges [start, end) that together cover it. A slice owns
the rows that *begin* inside it, so splitting never cuts a row and every row belongs to exactly one slice: a reader
skips the partial row at its start (the previous slice owns it) and reads past its end to finish its last row. As
Azure ML documents for `support_multi_line=False`, every line break ends a row; with `support_multi_line=True` a file
is never split. Parquet files are read whole.

Column types follow Azure ML: `infer_column_types` looks at the first 200 rows (of the first file) and picks
int, float, bool, datetime or string per column; `set_column_types` overrides it. The types are fixed when the
dataset is defined (or, for a dataset defined before its files existed, when a run is planned), so every mini-batch
converts the same way.
"""

from __future__ import annotations

import io
import json
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.core.errors import InvalidInput
from shared.core.lazy_modules import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # imported by the first tabular read, not by the app's start
    np, pd = lazy("numpy"), lazy("pandas")

Spec = dict[str, Any]
#: A source of bytes: (offset, length or None for the rest) -> bytes.
ReadRange = Callable[[int, int | None], bytes]

FORMATS = ("delimited", "parquet", "json_lines")
HEADERS = ("ALL_FILES_HAVE_SAME_HEADERS", "ONLY_FIRST_FILE_HAS_HEADERS", "COMBINE_ALL_FILES_HEADERS", "NO_HEADERS")
TYPES = ("string", "int", "float", "bool", "datetime")
INFERENCE_ROWS = 200
PATH_COLUMN = "Path"
#: The separator that makes each line one value (one column).
LINE_SEPARATOR = "\n"
#: How far past a slice's end a reader looks at once for the end of its last row.
READ_AHEAD = 64 * 1024
TRUE_WORDS, FALSE_WORDS = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan|NaN|Infinity)$")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


class ParseError(InvalidInput):
    """A file (or a slice of one) did not parse; the message names the file and the line."""


# -- the definition ------------------------------------------------------------------------------------------------


def _header(value: object) -> str:
    if value is True or value is None:
        return "ALL_FILES_HAVE_SAME_HEADERS"
    if value is False:
        return "NO_HEADERS"
    name = getattr(value, "name", value)
    if name not in HEADERS:
        raise InvalidInput(f"header must be True, False or one of {list(HEADERS)}, not {value!r}", field="header")
    return str(name)


def column_type(value: object) -> dict[str, Any]:
    """A column type as stored: {"type": one of TYPES, "formats": [...] for datetimes}."""
    if isinstance(value, dict) and value.get("type") in TYPES:
        formats = value.get("formats") or []
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise InvalidInput("a datetime column's formats must be a list of strings", field="set_column_types")
        return {"type": value["type"], "formats": list(formats)}
    raise InvalidInput(f"column type {value!r} is not one of {list(TYPES)}", field="set_column_types")


def parse_spec(spec: object) -> Spec:
    """A tabular definition, checked, with Azure ML's defaults filled in."""
    if not isinstance(spec, dict) or spec.get("format") not in FORMATS:
        raise InvalidInput(f"'tabular' must be an object whose 'format' is one of {list(FORMATS)}", field="tabular")
    separator = spec.get("separator", ",")
    if not isinstance(separator, str) or len(separator) != 1 or separator in '\r"':
        raise InvalidInput(f"separator {separator!r} must be one character (not a quote or carriage return)")
    encoding = str(spec.get("encoding") or "utf8")
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise InvalidInput(f"encoding {encoding!r} is not known", field="encoding") from exc
    types = spec.get("column_types")
    if types is not None and not isinstance(types, dict):
        raise InvalidInput("'column_types' must map column names to types", field="set_column_types")
    transforms = spec.get("transforms") or []
    if not isinstance(transforms, list):
        raise InvalidInput("'transforms' must be a list", field="transforms")
    return {
        "format": spec["format"],
        "separator": separator,
        "header": _header(spec.get("header", True)),
        "encoding": encoding,
        "support_multi_line": bool(spec.get("support_multi_line", False)),
        "empty_as_string": bool(spec.get("empty_as_string", False)),
        "include_path": bool(spec.get("include_path", False)),
        "infer_column_types": bool(spec.get("infer_column_types", True)),
        "column_types": None if types is None else {str(k): column_type(v) for k, v in types.items()},
        "set_column_types": {str(k): column_type(v) for k, v in (spec.get("set_column_types") or {}).items()},
        "invalid_lines": "drop" if spec.get("invalid_lines") == "drop" else "error",
        "transforms": [_transform(t) for t in transforms],
        "timestamp_columns": _timestamp_columns(spec.get("timestamp_columns")),
    }


def _timestamp_columns(value: object) -> list[str | None]:
    """`with_timestamp_columns(timestamp, partition_timestamp)`: [timestamp, partition timestamp], each or None."""
    if value is None:
        return [None, None]
    if not isinstance(value, list) or len(value) != 2 or not all(v is None or isinstance(v, str) for v in value):
        raise InvalidInput("'timestamp_columns' must be [timestamp, partition_timestamp]", field="timestamp_columns")
    return list(value)


#: Transformations that apply to any slice, row by row or column by column (a mini-batch can have them); the others
#: count rows of the whole dataset.
COLUMN_TRANSFORMS = ("keep_columns", "drop_columns", "filter")
ROW_TRANSFORMS = ("take", "skip", "random_split", "take_sample")


def _transform(transform: object) -> dict[str, Any]:
    if not isinstance(transform, dict) or transform.get("op") not in COLUMN_TRANSFORMS + ROW_TRANSFORMS:
        raise InvalidInput(f"unknown transformation {transform!r}", field="transforms")
    if transform["op"] == "filter":
        check_expression(transform.get("expression"))
    return dict(transform)


# -- filter expressions ------------------------------------------------------------------------------------------
#
# `dataset['col'] > 5`, `dataset['name'].starts_with('a')`, `(a) & (b)`, as JSON: {"column": name} (a file
# dataset's {"metadata": name}), {"value": literal}, {"datetime": iso}, and {"op": ..., "args": [...]}.

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
LOGICAL = ("and", "or", "not")
STRING_TESTS = ("starts_with", "ends_with", "contains")
NULL_TESTS = ("is_null", "is_error")


def check_expression(tree: object) -> None:
    """A filter expression as stored (InvalidInput names what is wrong)."""
    if not isinstance(tree, dict):
        raise InvalidInput(f"filter expression {tree!r} is not an expression", field="transforms")
    if "op" in tree:
        arity = 1 if tree["op"] in ("not", *NULL_TESTS) else 2
        if tree["op"] not in COMPARISONS + LOGICAL + STRING_TESTS + NULL_TESTS:
            raise InvalidInput(f"unknown filter operation {tree['op']!r}", field="transforms")
        args = tree.get("args")
        if not isinstance(args, list) or len(args) != arity:
            raise InvalidInput(f"filter operation {tree['op']!r} takes {arity} operands", field="transforms")
        for arg in args:
            check_expression(arg)
    elif not ({"column", "metadata", "value", "datetime"} & set(tree)) or len(tree) != 1:
        raise InvalidInput(f"filter expression {tree!r} is not an expression", field="transforms")


def evaluate(tree: dict[str, Any], frame: pd.DataFrame) -> Any:
    """An expression over `frame`'s rows: a Series (or a scalar for a literal)."""
    if "column" in tree or "metadata" in tree:
        name = tree.get("column", tree.get("metadata"))
        if name not in frame.columns:
            raise InvalidInput(f"filter: no column {name!r}; the dataset has {list(frame.columns)}", field="expression")
        return frame[name]
    if "value" in tree:
        return tree["value"]
    if "datetime" in tree:
        return pd.Timestamp(tree["datetime"])
    op, args = tree["op"], [evaluate(arg, frame) for arg in tree["args"]]
    if op in COMPARISONS:
        left, right = args
        compared = getattr(operator, op)(left, right)
        return compared.fillna(False) if isinstance(compared, pd.Series) else compared
    if op == "and":
        return _truth(args[0], frame) & _truth(args[1], frame)
    if op == "or":
        return _truth(args[0], frame) | _truth(args[1], frame)
    if op == "not":
        return ~_truth(args[0], frame)
    if op == "is_null":
        return args[0].isna() if isinstance(args[0], pd.Series) else pd.Series(args[0] is None, index=frame.index)
    if op == "is_error":  # a value that does not convert is null here (on_error='null'): no error values
        return pd.Series(False, index=frame.index)
    text = args[0].astype("string") if isinstance(args[0], pd.Series) else pd.Series(str(args[0]), index=frame.index)
    method = {"starts_with": "startswith", "ends_with": "endswith"}.get(op)
    found = getattr(text.str, method)(str(args[1])) if method else text.str.contains(str(args[1]), regex=False)
    return found.fillna(False).astype(bool)


def _truth(value: Any, frame: pd.DataFrame) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.fillna(False).astype(bool)
    return pd.Series(bool(value), index=frame.index)


def splittable(spec: Spec) -> bool:
    """Whether files of this definition can be cut into byte slices at row boundaries."""
    return spec["format"] != "parquet" and not spec["support_multi_line"]


def row_transforms(spec: Spec) -> list[str]:
    return [t["op"] for t in spec["transforms"] if t["op"] in ROW_TRANSFORMS]


# -- slices at row boundaries ----------------------------------------------------------------------------------


def _find_newline(read: ReadRange, size: int, position: int) -> int:
    """The offset just past the first line break at or after `position` (the file's size when there is none)."""
    while position < size:
        chunk = read(position, min(READ_AHEAD, size - position))
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return size


def slice_bytes(read: ReadRange, size: int, start: int, end: int) -> tuple[int, bytes]:
    """The rows that begin in [start, end): (the offset of the first one, their bytes)."""
    first = 0 if start == 0 else _find_newline(read, size, start - 1)
    if first >= end or first >= size:
        return first, b""
    last = _find_newline(read, size, end - 1)
    return first, read(first, last - first)


def first_line(read: ReadRange, size: int) -> bytes:
    return read(0, _find_newline(read, size, 0)) if size else b""


# -- parsing ----------------------------------------------------------------------------------------------------


def _line_error(where: str, text: str, line: int, reason: str) -> ParseError:
    lines = text.splitlines()
    shown = lines[line - 1][:200] if 0 < line <= len(lines) else ""
    return ParseError(f"{where}, line {line} does not parse: {reason}" + (f": {shown!r}" if shown else ""))


def header_columns(spec: Spec, line: bytes, where: str) -> list[str]:
    """The column names of a header line (or Column1..N for a file without headers)."""
    text = line.decode(spec["encoding"]).rstrip("\r\n")
    if spec["separator"] == LINE_SEPARATOR:  # one value per line: the line is the one column's name
        return ["Column1"] if spec["header"] == "NO_HEADERS" or not text else [text]
    try:
        names = next(iter(pd.read_csv(io.StringIO(text), sep=spec["separator"], header=None, dtype=str).values))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, StopIteration) as exc:
        raise ParseError(f"{where}, line 1 (the header) does not parse: {exc}") from exc
    if spec["header"] == "NO_HEADERS":
        return [f"Column{i + 1}" for i in range(len(names))]
    return [str(name) if not pd.isna(name) else f"Column{i + 1}" for i, name in enumerate(names)]


def parse_delimited(spec: Spec, data: bytes, columns: list[str], where: str, skip_first: bool) -> pd.DataFrame:
    """Rows of a delimited slice as strings (None for empty fields unless empty_as_string)."""
    text = data.decode(spec["encoding"])
    if skip_first:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    if not text.strip():
        return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})
    if spec["separator"] == LINE_SEPARATOR:
        return _lines(spec, text, columns)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=spec["separator"],
            header=None,
            names=columns,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            index_col=False,
        )
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise ParseError(f"{where} does not parse: {str(exc).strip()}") from exc
        number = int(found.group(2)) + int(skip_first)
        reason = f"expected {found.group(1)} fields, saw {found.group(3)}"
        raise _line_error(where, data.decode(spec["encoding"]), number, reason) from exc
    if not spec["empty_as_string"]:
        frame = frame.replace("", None)
    return frame


def _lines(spec: Spec, text: str, columns: list[str]) -> pd.DataFrame:
    """separator='\\n': each line is one value, taken as it is (quotes and commas included), as Azure ML reads one
    request body per line for Model.profile."""
    values = [line.removesuffix("\r") for line in text.split("\n")]
    values = [value for value in values if value]  # blank lines are skipped, as for any separator
    frame = pd.DataFrame({columns[0]: pd.Series(values, dtype=object)})
    return frame if spec["empty_as_string"] else frame.replace("", None)


def parse_json_lines(spec: Spec, data: bytes, where: str) -> pd.DataFrame:
    records = []
    for number, line in enumerate(data.decode(spec["encoding"]).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if spec["invalid_lines"] == "drop":
                continue
            raise ParseError(f"{where}, line {number} does not parse: {exc}") from exc
        records.append(record if isinstance(record, dict) else {"Column1": record})
    return pd.DataFrame.from_records(records)


def parse_parquet(data: bytes, where: str) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401  (whether the engine pandas reads Parquet with is there: an optional extra)
    except ImportError as exc:
        raise ParseError(
            f"{where} is a Parquet file, and reading Parquet needs pyarrow, which this app does not have: "
            "`fninfer package` puts it in only when something registered reads Parquet, or with `--with parquet` "
            "(rebuild and deploy the zip; locally, pip install 'fninfer[parquet]')"
        ) from exc
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ParseError(f"{where} is not a readable Parquet file: {exc}") from exc


# -- column types --------------------------------------------------------------------------------------------------


def infer_type(values: pd.Series) -> dict[str, Any]:
    """Azure ML's inference on a column of strings: the narrowest of int, float, bool, datetime, else string."""
    present = [str(v) for v in values if v is not None and not (isinstance(v, float) and pd.isna(v)) and str(v)]
    if not present:
        return {"type": "string", "formats": []}
    if all(_INT.match(v) for v in present):
        return {"type": "int", "formats": []}
    if all(_FLOAT.match(v) for v in present):
        return {"type": "float", "formats": []}
    if all(v in TRUE_WORDS | FALSE_WORDS for v in present):
        return {"type": "bool", "formats": []}
    if all(_DATE.match(v) for v in present):
        return {"type": "datetime", "formats": []}
    return {"type": "string", "formats": []}


def infer_types(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    sample = frame.head(INFERENCE_ROWS)
    return {
        str(column): infer_type(sample[column])
        for column in sample.columns
        if pd.api.types.is_string_dtype(sample[column]) or sample[column].dtype == object
    }


def convert(frame: pd.DataFrame, types: dict[str, dict[str, Any]], where: str, on_error: str = "null") -> pd.DataFrame:
    """Convert columns to their types; a value that does not convert is null, or (on_error='fail') an error naming
    the file and the row."""
    for column, wanted in types.items():
        if column not in frame.columns:
            continue
        values = frame[column]
        kind = wanted["type"]
        if kind == "string":
            converted = (
                values if pd.api.types.is_string_dtype(values) else values.where(values.isna(), values.astype(str))
            )
        elif kind in ("int", "float"):
            converted = pd.to_numeric(values, errors="coerce")
            if kind == "int" and not converted.isna().any():
                converted = converted.astype("int64")
            elif kind == "float":
                converted = converted.astype("float64")
        elif kind == "bool":
            text = values.astype(str)
            converted = pd.Series(
                [True if v in TRUE_WORDS else False if v in FALSE_WORDS else None for v in text], index=values.index
            )
            converted = converted.where(values.notna(), None)
            if not converted.isna().any():
                converted = converted.astype(bool)
        else:
            formats = wanted.get("formats") or [None]
            converted = pd.to_datetime(values, errors="coerce", format=formats[0])
            for fmt in formats[1:]:
                converted = converted.fillna(pd.to_datetime(values, errors="coerce", format=fmt))
        bad = converted.isna() & values.notna()
        if on_error == "fail" and bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise ParseError(
                f"{where}: row {row + 1} of column {column!r} does not convert to {kind}: {values.iloc[row]!r}"
            )
        frame[column] = converted
    return frame


def column_transforms(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """The transformations a slice can have on its own (COLUMN_TRANSFORMS), in order: a mini-batch's."""
    for transform in spec["transforms"]:
        if transform["op"] in COLUMN_TRANSFORMS:
            frame = transform_frame(frame, transform)
    return frame


def transform(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Every transformation, in order, on the whole dataset's rows (as `to_pandas_dataframe` reads it)."""
    for step in spec["transforms"]:
        frame = transform_frame(frame, step)
    return frame.reset_index(drop=True)


def transform_frame(frame: pd.DataFrame, transform: dict[str, Any]) -> pd.DataFrame:
    """One transformation applied to `frame` (the whole dataset's rows for the row ones)."""
    op = transform["op"]
    if op == "keep_columns":
        missing = [c for c in transform["columns"] if c not in frame.columns]
        if missing and transform.get("validate"):
            raise InvalidInput(f"keep_columns: no columns {missing}; the dataset has {list(frame.columns)}")
        return frame[[c for c in transform["columns"] if c in frame.columns]]
    if op == "drop_columns":
        return frame.drop(columns=[c for c in transform["columns"] if c in frame.columns])
    if op == "filter":
        return frame[_truth(evaluate(transform["expression"], frame), frame).to_numpy()]
    if op == "take":
        return frame.head(transform["count"])
    if op == "skip":
        return frame.iloc[transform["count"] :]
    draws = np.random.default_rng(transform["seed"]).random(len(frame))  # reproducible: the same seed, the same rows
    if op == "take_sample":
        return frame[draws < transform["probability"]]
    chosen = draws < transform["percentage"]  # random_split: part 0 about `percentage` of the rows, part 1 the rest
    return frame[chosen if transform["part"] == 0 else ~chosen]


# -- partition_format ------------------------------------------------------------------------------------------------

_DATE_PARTS = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}", "mm": r"\d{2}", "ss": r"\d{2}"}


def partition_pattern(partition_format: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex matching the end of a path as `partition_format` describes it, and its column names. '{name}' is a
    string column; '{name:yyyy/MM/dd}' a datetime one; '*' any text within a folder."""
    fmt = partition_format.strip("/")
    parts = re.findall(r"\{([^{}]*)\}", fmt)
    if not parts or any(not p.split(":")[0] for p in parts):
        raise InvalidInput(
            f"partition_format {partition_format!r} needs at least one '{{column_name}}'", field="partition_format"
        )
    if sum(":" in p for p in parts) > 1:
        raise InvalidInput("partition_format can have one datetime part at most", field="partition_format")
    regex, columns, position = "", [], 0
    for match in re.finditer(r"\{([^{}]*)\}|\*", fmt):
        regex += re.escape(fmt[position : match.start()])
        position = match.end()
        if match.group(0) == "*":
            regex += r"[^/]*"
            continue
        name, _, date = match.group(1).partition(":")
        columns.append(name)
        if date:
            piece, cursor = "", 0
            for token in re.finditer("|".join(_DATE_PARTS), date):
                piece += (
                    re.escape(date[cursor : token.start()]) + f"(?P<_d_{token.group(0)}>{_DATE_PARTS[token.group(0)]})"
                )
                cursor = token.end()
            regex += f"(?P<{_group(name)}>{piece + re.escape(date[cursor:])})"
        else:
            regex += f"(?P<{_group(name)}>[^/]+)"
    regex += re.escape(fmt[position:])
    return re.compile(f"(?:^|/){regex}$"), columns


def _group(name: str) -> str:
    return "p_" + "".join(c if c.isalnum() else f"_{ord(c)}_" for c in name)


def partition_values(partition_format: str, path: str) -> dict[str, Any] | None:
    """The partition columns' values for a file path (None when the path does not match the format)."""
    pattern, columns = partition_pattern(partition_format)
    match = pattern.search(path)
    if match is None:
        return None
    values: dict[str, Any] = {}
    for name in columns:
        raw = match.group(_group(name))
        if f"{{{name}:" in partition_format:
            parts = {k[3:]: int(v) for k, v in match.groupdict().items() if k.startswith("_d_") and v}
            values[name] = pd.Timestamp(
                year=parts.get("yyyy", 1), month=parts.get("MM", 1), day=parts.get("dd", 1),
                hour=parts.get("HH", 0), minute=parts.get("mm", 0), second=parts.get("ss", 0),
            )  # fmt: skip
        else:
            values[name] = raw
    return values
