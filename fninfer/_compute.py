"""Compute targets. On fninfer the compute is the Function App itself: AKS/ACI provisioning is accepted so existing
code runs, and the target's name is recorded on the services deployed to it."""

from __future__ import annotations

from typing import Any

from fninfer._workspace import Workspace


class ProvisioningConfiguration:
    def __init__(self, **settings: Any) -> None:
        self.settings = settings


class ComputeTarget:
    """Mirrors `azureml.core.compute.ComputeTarget`."""

    type = "FunctionApp"

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name
        self.provisioning_state = "Succeeded"
        self.provisioning: ProvisioningConfiguration | None = None

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: ProvisioningConfiguration) -> ComputeTarget:
        target = AksCompute(workspace, name)
        target.provisioning = provisioning_configuration
        return target

    def wait_for_completion(self, show_output: bool = False) -> None:
        if show_output:
            print(f"{self.name}: Succeeded (the compute is the Function App: scale comes from Azure Functions)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class AksCompute(ComputeTarget):
    """Mirrors `azureml.core.compute.AksCompute`."""

    type = "AKS"

    @staticmethod
    def provisioning_configuration(**settings: Any) -> ProvisioningConfiguration:
        return ProvisioningConfiguration(**settings)
