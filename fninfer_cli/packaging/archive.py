"""A zip that is the same, byte for byte, for the same content: entries sorted by name, one fixed timestamp, fixed
permissions, fixed compression."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

#: The earliest time a zip entry can hold; what reproducible builds use.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
CHUNK = 1024 * 1024
#: Deflate's level: a fast one, since the dependencies' files are most of a zip and the higher levels cost several
#: times the CPU for a few percent fewer bytes.
COMPRESSION_LEVEL = 3


def write_zip(entries: Iterable[tuple[str, Path]], output: Path) -> None:
    """Write `(name in the zip, file on disk)` pairs to `output` (replaced atomically: never half written)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, source in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipFile.open takes an entry's level from its ZipInfo only (zlib's default otherwise); Python 3.13
                # names the attribute compress_level and keeps this one as its alias.
                info._compresslevel = COMPRESSION_LEVEL  # type: ignore[attr-defined]
                info.create_system = 3  # Unix, so the permissions below apply on Linux
                mode = EXECUTABLE_MODE if source.stat().st_mode & 0o111 else FILE_MODE
                info.external_attr = (0o100000 | mode) << 16
                with source.open("rb") as handle, archive.open(info, "w", force_zip64=True) as entry:
                    shutil.copyfileobj(handle, entry, CHUNK)  # models can be large: never whole in memory
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)  # a failed build leaves no file behind, partial or whole
        raise
