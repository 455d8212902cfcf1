"""What differs from Azure ML: the records of data/differences.toml, for `fninfer check` and the docs' table
(docs/differences.md, the "What differs from Azure ML" page).

python -m fninfer_cli.differences          # rewrite docs/differences.md's table from the records
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fninfer_cli.surface import canonical

DIFFERENCES_FILE = Path(__file__).parent / "data" / "differences.toml"
#: The page that shows the table, from the project's root (the default of `python -m fninfer_cli.differences`).
DIFFERENCES_PAGE = Path("docs") / "differences.md"
VERDICTS = ("differs", "unsupported")
#: The docs page's table sits between these lines.
BEGIN = "<!-- differences: generated from fninfer_cli/data/differences.toml; python -m fninfer_cli.differences -->"
END = "<!-- end of differences -->"
_APPLIES = re.compile(r"^(azureml(?:_user)?(?:\.\w+)+)(?:\((\w+)\))?$")


@dataclass(frozen=True)
class Difference:
    id: str
    area: str
    what: str
    how: str
    todo: str
    verdict: str
    applies: tuple[str, ...] = ()

    def targets(self) -> list[tuple[str, str | None]]:
        """(azureml name, keyword or None) pairs this record is attached to."""
        found = []
        for entry in self.applies:
            match = _APPLIES.match(entry)
            if match is None:
                raise ValueError(f"difference {self.id!r}: applies entry {entry!r} is not 'azureml.name[(keyword)]'")
            found.append((match.group(1), match.group(2)))
        return found


@cache
def differences() -> tuple[Difference, ...]:
    records = tomllib.loads(DIFFERENCES_FILE.read_text())["difference"]
    loaded = tuple(Difference(**{**record, "applies": tuple(record.get("applies", ()))}) for record in records)
    ids = [record.id for record in loaded]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{DIFFERENCES_FILE}: ids repeat")
    for record in loaded:
        if record.verdict not in VERDICTS:
            raise ValueError(f"difference {record.id!r}: verdict must be one of {VERDICTS}")
        record.targets()
    return loaded


@cache
def by_target() -> dict[tuple[str, str | None], Difference]:
    """Records by (azureml name, keyword), each name in its canonical spelling (surface.canonical)."""
    return {(canonical(name), keyword): record for record in differences() for name, keyword in record.targets()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """The docs page's table, one row per record, in the file's order."""
    lines = ["| Azure ML | in fninfer | what to do |", "|---|---|---|"]
    for record in differences():
        how = record.how if record.verdict == "differs" else f"**Not supported.** {record.how}"
        lines.append(f"| {_cell(record.what)} | {_cell(how)} | {_cell(record.todo)} |")
    return "\n".join(lines)


def table_block() -> str:
    return f"{BEGIN}\n{table()}\n{END}"


def replace_block(page: str) -> str:
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + table_block() + page[end:]


def main(argv: list[str]) -> int:
    page = Path(argv[0]) if argv else DIFFERENCES_PAGE
    page.write_text(replace_block(page.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
