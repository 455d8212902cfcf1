"""`fninfer.install_as_azureml()`: v1 client code's `azureml` imports resolve to fninfer, without editing them."""

from __future__ import annotations

from shared.core import azureml_alias


def install_as_azureml() -> None:
    """Make `import azureml...` and `import azureml_user...` resolve to fninfer's modules in this process, as
    PyMySQL's `install_as_MySQLdb()` does for MySQLdb:

        import fninfer
        fninfer.install_as_azureml()

        from azureml.core import Workspace, Model      # fninfer.core's Workspace and Model

    Limits: it covers the modules fninfer mirrors (`azureml.core.*`, `azureml.data.*`, `azureml.pipeline.*`,
    `azureml.contrib.services.*`, `azureml.contrib.pipeline.steps`, `azureml.exceptions`,
    `azureml_user.parallel_run`); any other azureml module (`azureml.train.*`, `azureml.core.image`, AutoML, ...) is a
    ModuleNotFoundError naming it. It applies to this process only, from the call on: call it before anything imports
    azureml (ImportError if a real azureml is already imported). It wins over an installed azureml package, so do not
    call it where the real SDK must be used. What differs from Azure ML behind the names is what `fninfer check`
    reports and docs/migrating.md lists. Inside the app (entry scripts of services and pipeline steps) the alias is on
    by itself wherever the real azureml is not installed; this call is for client code.
    """
    azureml_alias.install()
