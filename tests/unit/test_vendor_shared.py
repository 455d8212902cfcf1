"""The wheel's copy of the app's domain: every `from shared...` import becomes `from fninfer._shared...`."""

from __future__ import annotations

import pytest

from tools.vendor_shared import rewrite


def test_from_imports_are_rewritten_at_any_indentation() -> None:
    source = (
        "from shared import layout\nfrom shared.errors import A, B\n\ndef f():\n    from shared.pipelines.x import y\n"
    )
    assert rewrite(source, "m.py") == (
        "from fninfer._shared import layout\nfrom fninfer._shared.errors import A, B\n\n"
        "def f():\n    from fninfer._shared.pipelines.x import y\n"
    )


def test_other_names_and_text_are_left_alone() -> None:
    source = 'from shared_utils import x\nfrom sharedlib.a import b\ntext = "from shared import nothing"\n'
    assert rewrite(source, "m.py") == source


def test_a_plain_import_cannot_be_vendored_and_fails_the_build() -> None:
    with pytest.raises(RuntimeError, match=r"m\.py: write `from shared\.\.\. import \.\.\.`"):
        rewrite("import shared.layout\n", "m.py")
