"""Filter expressions, as Azure ML's datasets build them: `dataset['age'] > 30`, `dataset['name'].starts_with('a')`,
`(a) & (b)`, `~a`, and a file dataset's `dataset.file_metadata('Size') > 1000`. An expression is data (a JSON
tree, evaluated by
shared/registry/tabular.py where the rows are read), so a filtered dataset can be registered and read by
the app like any other."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from fninfer._exceptions import UserErrorException
from shared.core.lazy_modules import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # imported when an expression is evaluated, not by `import fninfer.core`
    np, pd = lazy("numpy"), lazy("pandas")


def _operand(value: Any) -> dict[str, Any]:
    if isinstance(value, ColumnExpression):
        return value._tree
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp | np.datetime64):
        return {"datetime": pd.Timestamp(value).isoformat()}
    if isinstance(value, np.generic):
        value = value.item()
    if value is not None and not isinstance(value, str | int | float | bool):
        raise UserErrorException(f"a filter compares with strings, numbers, booleans and datetimes, not {value!r}")
    return {"value": value}


class ColumnExpression:
    """A column of a dataset's rows (or a file's metadata), or a test built from one."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = tree

    def _op(self, op: str, *others: Any) -> ColumnExpression:
        return ColumnExpression({"op": op, "args": [self._tree, *(_operand(other) for other in others)]})

    def __eq__(self, other: object) -> ColumnExpression:  # type: ignore[override]
        return self._op("eq", other)

    def __ne__(self, other: object) -> ColumnExpression:  # type: ignore[override]
        return self._op("ne", other)

    def __lt__(self, other: Any) -> ColumnExpression:
        return self._op("lt", other)

    def __le__(self, other: Any) -> ColumnExpression:
        return self._op("le", other)

    def __gt__(self, other: Any) -> ColumnExpression:
        return self._op("gt", other)

    def __ge__(self, other: Any) -> ColumnExpression:
        return self._op("ge", other)

    def __and__(self, other: ColumnExpression) -> ColumnExpression:
        return self._op("and", other)

    def __or__(self, other: ColumnExpression) -> ColumnExpression:
        return self._op("or", other)

    def __invert__(self) -> ColumnExpression:
        return ColumnExpression({"op": "not", "args": [self._tree]})

    def starts_with(self, prefix: str) -> ColumnExpression:
        return self._op("starts_with", str(prefix))

    def ends_with(self, suffix: str) -> ColumnExpression:
        return self._op("ends_with", str(suffix))

    def contains(self, value: str) -> ColumnExpression:
        return self._op("contains", str(value))

    def is_null(self) -> ColumnExpression:
        return ColumnExpression({"op": "is_null", "args": [self._tree]})

    def is_error(self) -> ColumnExpression:
        return ColumnExpression({"op": "is_error", "args": [self._tree]})

    __hash__ = None  # type: ignore[assignment]  # == builds an expression, so these are not dict keys

    def __bool__(self) -> bool:
        raise UserErrorException(
            "a filter expression has no truth value: combine tests with & | ~ (not and/or/not), and pass it to "
            "dataset.filter(...)"
        )

    def __repr__(self) -> str:
        return f"ColumnExpression({self._tree})"


def expression_tree(expression: Any) -> dict[str, Any]:
    """What `dataset.filter(expression)` stores."""
    if not isinstance(expression, ColumnExpression):
        raise UserErrorException(
            f"filter takes an expression built from the dataset, e.g. dataset['col'] > 5, not {expression!r}"
        )
    return expression._tree
