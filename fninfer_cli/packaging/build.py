"""Building the package: the app's files, the dependencies for the target, baked models and services, one zip."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement

from fninfer_cli.packaging import archive, baking, dependencies, features, files
from fninfer_cli.packaging.dependencies import PackagingError, Target
from shared.core import layout
from shared.core.storage import Storage

REQUIRED_FILES = ("function_app.py", "host.json")


@dataclass(frozen=True)
class PackageRequest:
    app_dir: Path
    output: Path
    target: Target = field(default_factory=Target)
    models: tuple[str, ...] = ()  # "name:version" ids to bake in
    services: tuple[str, ...] = ()  # deployed services to bake in (their code and models)
    storage: Storage | None = None  # where the registry is, when baking
    requirements: tuple[str, ...] | None = None  # instead of the app's declared ones (--from-environments)
    extras: tuple[str, ...] = ()  # the app's extras to include whatever the registry needs (--with)


@dataclass
class PackageReport:
    output: Path
    size: int = 0
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)  # what -> (files, bytes)
    distributions: list[tuple[str, str]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)  # optional features included or left out, and why

    def lines(self) -> list[str]:
        """What `fninfer package` prints: the package's size and what is in it."""
        out = [f"{self.output}: {self.size / 1e6:.1f} MB"]
        for section, (count, size) in self.sections.items():
            out.append(f"  {section:<28} {count:>6} files  {size / 1e6:>9.1f} MB")
        out.append(f"  dependencies: {', '.join(f'{n}=={v}' for n, v in self.distributions) or 'none'}")
        out += [f"  {line}" for line in self.features]
        if self.models:
            out.append(f"  models baked in: {', '.join(self.models)}")
        if self.services:
            out.append(f"  services baked in: {', '.join(self.services)}")
        return out


def _section(name: str) -> str:
    if name.startswith(layout.PACKAGED_SITE_PACKAGES):
        return "dependencies"
    if name.startswith((layout.PACKAGED_MODELS_DIR + "/", layout.PACKAGED_SNAPSHOTS_DIR + "/")):
        return "baked models and services"
    return "app code"


def build_package(request: PackageRequest) -> PackageReport:
    app_dir = request.app_dir.resolve()
    missing = [name for name in REQUIRED_FILES if not (app_dir / name).is_file()]
    if missing:
        raise PackagingError(f"{app_dir} is not a Functions app folder: it has no {' or '.join(missing)}")
    if (request.models or request.services) and request.storage is None:
        raise PackagingError("baking models or services needs the registry: give --storage or a workspace config")
    report = PackageReport(request.output.resolve())
    entries: dict[str, Path] = {}

    def add(name: str, source: Path) -> None:
        if name in entries:
            raise PackagingError(f"{name} would be in the package twice (the app folder has it, and the build adds it)")
        entries[name] = source

    with tempfile.TemporaryDirectory(prefix="fninfer-package-") as scratch_name:
        scratch = Path(scratch_name)
        site_packages = scratch / "site-packages"
        wanted = (
            list(request.requirements)
            if request.requirements is not None
            else dependencies.project_dependencies(app_dir)
        )
        chosen = features.choose(app_dir, request.extras, request.storage)
        report.features = chosen.lines
        names = {Requirement(line).name.lower() for line in wanted}
        wanted += [line for line in chosen.requirements if Requirement(line).name.lower() not in names]
        report.distributions = dependencies.install(wanted, site_packages, request.target, scratch)
        for relative in files.app_files(app_dir):
            add(relative, app_dir / relative)
        requirements = scratch / "requirements.txt"
        requirements.write_text(dependencies.pinned_requirements(report.distributions, request.target))
        add("requirements.txt", requirements)
        for path in sorted(site_packages.rglob("*")):
            relative = path.relative_to(site_packages).as_posix()
            if path.is_file() and not dependencies.NOT_SHIPPED.match(relative):
                add(f"{layout.PACKAGED_SITE_PACKAGES}/{relative}", path)
        baked = scratch / "baked"
        if request.storage is not None:
            for model_id in request.models:
                record = baking.bake_model(request.storage, model_id, baked)
                report.models.append(f"{record['name']}:{record['version']}")
            for name in request.services:
                report.services.append(name)
                report.models += [
                    m for m in baking.bake_service(request.storage, name, baked) if m not in report.models
                ]
        for path in sorted(baked.rglob("*")) if baked.exists() else []:
            if path.is_file():
                add(path.relative_to(baked).as_posix(), path)
        archive.write_zip(entries.items(), report.output)
        for name, source in sorted(entries.items()):
            count, size = report.sections.get(_section(name), (0, 0))
            report.sections[_section(name)] = (count + 1, size + source.stat().st_size)
    report.size = report.output.stat().st_size
    return report
