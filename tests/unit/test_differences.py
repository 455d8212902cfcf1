"""What differs from Azure ML has one source, fninfer_cli/data/differences.toml: the docs' table (docs/differences.md,
which the README points to) is generated from it and `fninfer check` attaches its records to the names they apply
to."""

from __future__ import annotations

from pathlib import Path

from fninfer_cli.differences import BEGIN, DIFFERENCES_PAGE, END, differences, table_block
from fninfer_cli.surface import real_object

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_table_is_the_records() -> None:
    page = (ROOT / DIFFERENCES_PAGE).read_text()
    assert page.count(BEGIN) == 1 and page.count(END) == 1
    block = page[page.index(BEGIN) : page.index(END) + len(END)]
    assert block == table_block(), "docs/differences.md's table out of date: run `python -m fninfer_cli.differences`"
    for record in differences():
        assert record.todo in block


def test_the_readme_points_to_the_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/differences.md" in readme
    assert BEGIN not in readme, "the table lives in docs/differences.md only"


def test_every_record_applies_to_names_the_real_sdk_has() -> None:
    for record in differences():
        for name, keyword in record.targets():
            described, not_in_azureml = real_object(name)
            assert described is not None and not not_in_azureml, f"{record.id}: {name} is not in Azure ML SDK v1"
            if keyword is not None:
                params = (described.get("sig") or described.get("init") or {}).get("params", [])
                assert keyword in {p["name"] for p in params}, f"{record.id}: {name} takes no keyword {keyword!r}"
