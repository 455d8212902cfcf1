"""Compute targets. On fninfer the compute is the Function App itself: `AmlCompute` and `AksCompute` provisioning is
accepted so existing code runs, and stored as a record (`ws.compute_targets`, `ComputeTarget(ws, name)`). Nothing is
provisioned. An AmlCompute's `max_nodes` still bounds a ParallelRunStep's `node_count`, and node_count x
process_count_per_node is how many mini-batches run at once across the app's instances."""

from __future__ import annotations

import time
from typing import Any

from fninfer._exceptions import ComputeTargetException, azureml_error
from fninfer._workspace import Workspace
from shared import layout
from shared.errors import NotFound


class ProvisioningConfiguration:
    """What `provisioning_configuration(...)` returns: the settings `ComputeTarget.create` records."""

    def __init__(self, compute_type: str, **settings: Any) -> None:
        self.compute_type = compute_type
        self.settings = settings


class ScaleSettings:
    """Mirrors AmlCompute's `scale_settings`."""

    def __init__(self, minimum_node_count: int, maximum_node_count: int) -> None:
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count


class ComputeStatus:
    """What `get_status()` returns; `serialize()` gives Azure ML's keys."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.provisioning_state = record["provisioning_state"]
        self.record = record

    def serialize(self) -> dict[str, Any]:
        return {
            "provisioningState": self.provisioning_state,
            "currentNodeCount": None,
            "vmSize": self.record.get("vm_size"),
            "scaleSettings": {
                "minNodeCount": self.record.get("min_nodes"),
                "maxNodeCount": self.record.get("max_nodes"),
            },
        }


def _value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class ComputeTarget:
    """Mirrors `azureml.core.compute.ComputeTarget`. `ComputeTarget(ws, name)` finds a created target (as its own
    type) and raises ComputeTargetException for an unknown name, as Azure ML does."""

    type = "FunctionApp"

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> ComputeTarget:
        if workspace is None or name is None:  # unpickling, or a subclass built from a record
            return super().__new__(cls)
        try:
            layout.validate_name("compute target", name)
            record = workspace.client.request("GET", f"computetargets/{name}")
        except NotFound as exc:
            missing = NotFound(f"compute target with name {name!r} not found in workspace", compute=name)
            raise azureml_error(ComputeTargetException, missing, "ComputeTargetNotFound") from exc
        return ComputeTarget._from_record(workspace, record)

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        pass  # set by _from_record

    @staticmethod
    def _from_record(workspace: Workspace, record: dict[str, Any]) -> ComputeTarget:
        kind = {"AmlCompute": AmlCompute, "AksCompute": AksCompute}.get(record["type"], ComputeTarget)
        target = object.__new__(kind)
        target.workspace = workspace
        target.name = record["name"]
        target.provisioning_state = record["provisioning_state"]
        target._record = record
        target.provisioning = None
        return target

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: ProvisioningConfiguration) -> ComputeTarget:
        layout.validate_name("compute target", name)  # a URL segment
        body = {
            "type": provisioning_configuration.compute_type,
            "settings": {k: _value(v) for k, v in provisioning_configuration.settings.items()},
        }
        target = ComputeTarget._from_record(
            workspace, workspace.client.request("PUT", f"computetargets/{name}", json=body)
        )
        target.provisioning = provisioning_configuration
        return target

    @staticmethod
    def list(workspace: Workspace) -> list[ComputeTarget]:
        return list(workspace.compute_targets.values())

    def wait_for_completion(self, show_output: bool = False, is_delete_operation: bool = False) -> None:
        """Provisioning is immediate: the compute is the Function App, which scales on its own."""
        if show_output:
            print(f"{self.name}: {self.provisioning_state} (the compute is the Function App: it scales by itself)")

    def get_status(self) -> ComputeStatus:
        return ComputeStatus(self._record)

    def delete(self) -> None:
        self.workspace.client.request("DELETE", f"computetargets/{self.name}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r})"


class AmlCompute(ComputeTarget):
    """Mirrors `azureml.core.compute.AmlCompute`: on fninfer, a ParallelRunStep's node_count may not pass its
    `max_nodes`; vm_size and the other settings are recorded only."""

    type = "AmlCompute"

    @property
    def scale_settings(self) -> ScaleSettings:
        return ScaleSettings(int(self._record["min_nodes"]), int(self._record["max_nodes"]))

    @property
    def vm_size(self) -> str | None:
        return self._record.get("vm_size")

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = 1800,
        admin_username: str | None = None,
        admin_user_password: str | None = None,
        admin_user_ssh_key: str | None = None,
        vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None,
        identity_id: list[str] | None = None,
        location: str | None = None,
        enable_node_public_ip: bool = True,
    ) -> ProvisioningConfiguration:
        # credentials are not kept: there is no VM to log in to
        return ProvisioningConfiguration(
            "AmlCompute",
            vm_size=vm_size,
            vm_priority=vm_priority,
            min_nodes=min_nodes,
            max_nodes=max_nodes if max_nodes is not None else 4,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            description=description,
            location=location,
        )

    def wait_for_completion(  # type: ignore[override]
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 25,
        is_delete_operation: bool = False,
    ) -> None:
        started = time.monotonic()
        super().wait_for_completion(show_output, is_delete_operation)
        if show_output:
            print(f'Provisioning operation finished, operation "Succeeded" ({time.monotonic() - started:.0f} s)')


class AksCompute(ComputeTarget):
    """Mirrors `azureml.core.compute.AksCompute`: a name services deployed "to AKS" carry; settings are recorded."""

    type = "AKS"

    @staticmethod
    def provisioning_configuration(**settings: Any) -> ProvisioningConfiguration:
        return ProvisioningConfiguration("AksCompute", **settings)


# Azure ML's Workspace defaults for its cpu-cluster and gpu-cluster (here: _workspace.py cannot import this module).
Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2")
Workspace.DEFAULT_GPU_CLUSTER_CONFIGURATION = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6")
