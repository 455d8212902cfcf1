"""Compute targets. On fninfer the compute is the Function App itself: `AmlCompute` and `AksCompute` provisioning is
accepted so existing code runs, and stored as a record (`ws.compute_targets`, `ComputeTarget(ws, name)`). Nothing is
provisioned. An AmlCompute's `max_nodes` still bounds a ParallelRunStep's `node_count`, and node_count x
process_count_per_node is how many mini-batches run at once across the app's instances.

Every member Azure ML's classes have is here, doing the nearest honest thing: settings (VM size, scale settings,
identity, SSL, load balancer...) are recorded and read back as Azure ML describes them, updates change the record,
provisioning never fails (`provisioning_errors` is None), and what needs VMs or a cluster that do not exist (nodes,
quotas, VM sizes, Kubernetes credentials) answers empty with a log line, or raises ComputeTargetException saying why.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fninfer._exceptions import ComputeTargetException, azureml_error
from fninfer._experiment import Experiment
from fninfer._workspace import Workspace
from shared.core import validators
from shared.core.errors import FninferError, NotFound

log = logging.getLogger("fninfer.compute")

#: A run in one of these states is active (AmlCompute.get_active_runs).
ACTIVE_STATUSES = ("NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running", "Finalizing")
IDENTITY_TYPES = ("SystemAssigned", "UserAssigned")


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _duration(seconds: int | None) -> str:
    """Seconds as the ISO 8601 duration Azure ML's scale settings write (`PT1800S`)."""
    return f"PT{int(seconds)}S" if seconds else ""


class ProvisioningConfiguration:
    """What `provisioning_configuration(...)` / `attach_configuration(...)` return: the settings `ComputeTarget.create`
    (or `attach`) records."""

    def __init__(
        self,
        compute_type: str,
        tags: dict[str, Any] | None = None,
        identity: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.compute_type = compute_type
        self.type = compute_type
        self.tags = validators.string_map(tags, "tags")
        self.identity = identity
        self.settings = settings
        self.location = settings.get("location")

    def validate_configuration(self) -> None:
        """Nothing to validate beyond what the app checks: no resource is provisioned."""


class AksUpdateConfiguration:
    """Mirrors azureml's: the SSL and load balancer settings `AksCompute.update` changes (recorded)."""

    def __init__(
        self,
        ssl_configuration: Any = None,
        load_balancer_type: str | None = None,
        load_balancer_subnet: str | None = None,
    ) -> None:
        self.ssl_configuration = ssl_configuration
        self.load_balancer_type = load_balancer_type
        self.load_balancer_subnet = load_balancer_subnet

    def validate_configuration(self) -> None:
        if self.load_balancer_type not in (None, "PublicIp", "InternalLoadBalancer"):
            raise ComputeTargetException(f"Invalid load balancer type: {self.load_balancer_type}")


class ScaleSettings:
    """Mirrors AmlCompute's `scale_settings`."""

    def __init__(
        self, minimum_node_count: int, maximum_node_count: int, idle_seconds_before_scaledown: int | None = None
    ) -> None:
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown

    def serialize(self) -> dict[str, Any]:
        return {
            "minNodeCount": self.minimum_node_count,
            "maxNodeCount": self.maximum_node_count,
            "nodeIdleTimeBeforeScaleDown": _duration(self.idle_seconds_before_scaledown),
        }

    @staticmethod
    def deserialize(object_dict: dict[str, Any] | None) -> ScaleSettings | None:
        if not object_dict:
            return None
        idle = re.fullmatch(r"PT(\d+)S", str(object_dict.get("nodeIdleTimeBeforeScaleDown") or ""))
        return ScaleSettings(
            object_dict["minNodeCount"], object_dict["maxNodeCount"], int(idle.group(1)) if idle else None
        )


class AmlComputeNodeStateCounts:
    """Mirrors azureml's: how many nodes are in each state (none: the app's instances are not nodes)."""

    def __init__(self) -> None:
        self.idle_node_count = 0
        self.leaving_node_count = 0
        self.preempted_node_count = 0
        self.preparing_node_count = 0
        self.running_node_count = 0
        self.unusable_node_count = 0

    def serialize(self) -> dict[str, int]:
        return {
            "idleNodeCount": self.idle_node_count,
            "leavingNodeCount": self.leaving_node_count,
            "preemptedNodeCount": self.preempted_node_count,
            "preparingNodeCount": self.preparing_node_count,
            "runningNodeCount": self.running_node_count,
            "unusableNodeCount": self.unusable_node_count,
        }


class AmlComputeStatus:
    """What `AmlCompute.get_status()` returns; `serialize()` gives Azure ML's keys. The cluster is steady with no
    nodes of its own: the app's instances do the work."""

    def __init__(self, target: AmlCompute) -> None:
        self.allocation_state = "Steady"
        self.allocation_state_transition_time = target.modified_on
        self.creation_time = target.created_on
        self.modified_time = target.modified_on
        self.current_node_count = 0
        self.target_node_count = 0
        self.node_state_counts = AmlComputeNodeStateCounts()
        self.errors: list[Any] | None = None
        self.provisioning_state = target.provisioning_state
        self.provisioning_state_transition_time = target.modified_on
        self.scale_settings = target.scale_settings
        self.vm_priority = target.vm_priority
        self.vm_size = target.vm_size

    def serialize(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts.serialize(),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": iso(self.allocation_state_transition_time),
            "errors": self.errors,
            "creationTime": iso(self.creation_time),
            "modifiedTime": iso(self.modified_time),
            "provisioningState": self.provisioning_state,
            "provisioningStateTransitionTime": iso(self.provisioning_state_transition_time),
            "scaleSettings": self.scale_settings.serialize(),
            "vmPriority": self.vm_priority,
            "vmSize": self.vm_size,
        }


class ComputeTarget:
    """Mirrors `azureml.core.compute.ComputeTarget`. `ComputeTarget(ws, name)` finds a created target (as its own
    type) and raises ComputeTargetException for an unknown name, as Azure ML does."""

    type = "FunctionApp"

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> ComputeTarget:
        if workspace is None or name is None:  # unpickling, or a subclass built from a record
            return super().__new__(cls)
        return ComputeTarget._from_record(workspace, ComputeTarget._get(workspace, name))

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        pass  # set by _from_record

    @staticmethod
    def _get(workspace: Workspace, name: str) -> dict[str, Any]:
        try:
            validators.validate_name("compute target", name)
            return dict(workspace.client.request("GET", f"computetargets/{name}"))
        except NotFound as exc:
            missing = NotFound(f"compute target with name {name!r} not found in workspace", compute=name)
            raise azureml_error(ComputeTargetException, missing, "ComputeTargetNotFound") from exc

    @staticmethod
    def _from_record(workspace: Workspace, record: dict[str, Any]) -> ComputeTarget:
        kind = {"AmlCompute": AmlCompute, "AksCompute": AksCompute}.get(record["type"], ComputeTarget)
        target = object.__new__(kind)
        target._load(workspace, record)
        target.provisioning = None
        return target

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record
        self.name: str = record["name"]
        self.id = f"computetargets/{self.name}"
        self.provisioning_state: str = record["provisioning_state"]
        # Nothing is provisioned, so provisioning never fails: Azure ML's list of errors is None then too.
        self.provisioning_errors: list[Any] | None = record.get("provisioning_errors")
        self.tags: dict[str, str | None] = dict(record.get("tags") or {})
        self.description: str | None = record.get("description")
        self.location: str | None = record.get("location")
        self.created_on = _when(record.get("created_time"))
        self.modified_on = _when(record.get("modified_time") or record.get("created_time"))
        # The compute is the Function App: no cluster resource of its own.
        self.cluster_resource_id: str | None = None
        self.cluster_location: str | None = self.location
        self.is_attached: bool = bool(record.get("is_attached", False))

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: ProvisioningConfiguration) -> ComputeTarget:
        return ComputeTarget._put(workspace, name, provisioning_configuration, attached=False)

    @staticmethod
    def _put(
        workspace: Workspace, name: str, configuration: ProvisioningConfiguration, attached: bool
    ) -> ComputeTarget:
        validators.validate_name("compute target", name)  # a URL segment
        body = {
            "type": configuration.compute_type,
            "settings": {k: _value(v) for k, v in configuration.settings.items()},
            "tags": configuration.tags,
            "attached": attached,
        }
        if configuration.identity is not None:
            body["identity"] = configuration.identity
        target = ComputeTarget._from_record(
            workspace, workspace.client.request("PUT", f"computetargets/{name}", json=body)
        )
        target.provisioning = configuration
        return target

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: ProvisioningConfiguration) -> ComputeTarget:
        """Record an existing compute as attached (AksCompute.attach_configuration); nothing is reached."""
        return ComputeTarget._put(workspace, name, attach_configuration, attached=True)

    @staticmethod
    def list(workspace: Workspace) -> list[ComputeTarget]:
        return list(workspace.compute_targets.values())

    def wait_for_completion(self, show_output: bool = False, is_delete_operation: bool = False) -> None:
        """Provisioning is immediate: the compute is the Function App, which scales on its own."""
        if show_output:
            print(f"{self.name}: {self.provisioning_state} (the compute is the Function App: it scales by itself)")

    def refresh_state(self) -> None:
        """Read the target's record again (another client may have updated it)."""
        provisioning = getattr(self, "provisioning", None)
        self._load(self.workspace, ComputeTarget._get(self.workspace, self.name))
        self.provisioning = provisioning

    def get_status(self) -> Any:
        """The provisioning state, as Azure ML's base class gives it (AmlCompute gives its detailed status)."""
        self.refresh_state()
        return self.provisioning_state

    def delete(self) -> None:
        self.workspace.client.request("DELETE", f"computetargets/{self.name}")
        self.provisioning_state = "Deleting"

    def detach(self) -> None:
        """Remove the record of an attached compute (nothing else exists to keep)."""
        if not self.is_attached:
            raise ComputeTargetException(f"{self.name!r} was created, not attached: delete it instead, as in Azure ML")
        self.workspace.client.request("DELETE", f"computetargets/{self.name}")
        self.provisioning_state = "Deleting"

    def _patch(self, change: dict[str, Any]) -> None:
        try:
            record = self.workspace.client.request("PATCH", f"computetargets/{self.name}", json=change)
        except FninferError as exc:
            raise azureml_error(ComputeTargetException, exc) from exc
        provisioning = getattr(self, "provisioning", None)
        self._load(self.workspace, record)
        self.provisioning = provisioning

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "location": self.location,
            "type": self.type,
            "tags": self.tags,
            "description": self.description,
            "created_on": self.created_on.isoformat() if self.created_on else None,
            "modified_on": self.modified_on.isoformat() if self.modified_on else None,
            "provisioning_state": self.provisioning_state,
            "provisioning_errors": self.provisioning_errors,
        }

    @staticmethod
    def deserialize(workspace: Workspace, object_dict: dict[str, Any]) -> ComputeTarget:
        """The target a `serialize()` payload names, read from `workspace` (ComputeTargetException when it is not
        there, as Azure ML raises for another workspace's payload)."""
        name = object_dict.get("name")
        if not name:
            raise ComputeTargetException(f"Invalid compute payload, missing name:\n{object_dict}")
        return ComputeTarget(workspace, str(name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r})"


class AmlCompute(ComputeTarget):
    """Mirrors `azureml.core.compute.AmlCompute`: on fninfer, a ParallelRunStep's node_count may not pass its
    `max_nodes`; vm_size and the other settings are recorded only."""

    type = "AmlCompute"

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        super()._load(workspace, record)
        settings = record.get("settings") or {}
        self.vm_size: str | None = record.get("vm_size")
        self.vm_priority: str = settings.get("vm_priority") or "dedicated"
        self.scale_settings = ScaleSettings(
            int(record["min_nodes"]), int(record["max_nodes"]), record.get("idle_seconds_before_scaledown") or 1800
        )
        # Credentials are never kept: there is no VM to log in to.
        self.admin_username: str | None = settings.get("admin_username")
        self.admin_user_password: str | None = None
        self.admin_user_ssh_key: str | None = None
        self.vnet_resourcegroup_name: str | None = settings.get("vnet_resourcegroup_name")
        self.vnet_name: str | None = settings.get("vnet_name")
        self.subnet_name: str | None = settings.get("subnet_name")
        self.remote_login_port_public_access: str = settings.get("remote_login_port_public_access") or "NotSpecified"
        identity = record.get("identity")
        self.identity_type: str | None = identity["type"] if identity else None
        self.identity_id: dict[str, Any] | None = (
            {item: {} for item in identity["user_assigned"]}
            if identity and identity["type"] == "UserAssigned"
            else None
        )
        self.status = AmlComputeStatus(self)

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
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None,
        identity_id: list[str] | None = None,
        location: str | None = None,
        enable_node_public_ip: bool = True,
    ) -> ProvisioningConfiguration:
        _check_identity(identity_type, identity_id)
        identity = {"type": identity_type, "user_assigned": list(identity_id or [])} if identity_type else None
        # The password and SSH key are not kept: there is no VM to log in to.
        return ProvisioningConfiguration(
            "AmlCompute",
            tags=tags,
            identity=identity,
            vm_size=vm_size,
            vm_priority=vm_priority,
            min_nodes=min_nodes,
            max_nodes=max_nodes if max_nodes is not None else 4,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            admin_username=admin_username,
            vnet_resourcegroup_name=vnet_resourcegroup_name,
            vnet_name=vnet_name,
            subnet_name=subnet_name,
            description=description,
            remote_login_port_public_access=remote_login_port_public_access,
            location=location,
            enable_node_public_ip=enable_node_public_ip,
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

    def get_status(self) -> AmlComputeStatus:
        """The cluster's detailed status, as Azure ML's (see AmlComputeStatus)."""
        self.refresh_state()
        return self.status

    def serialize(self) -> dict[str, Any]:
        """The cluster as Azure ML's `serialize()` describes it."""
        identity = (
            {"type": self.identity_type, "userAssignedIdentities": self.identity_id} if self.identity_type else None
        )
        return {
            "id": self.id,
            "name": self.name,
            "location": self.location,
            "tags": self.tags,
            "identity": identity,
            "properties": {
                "description": self.description,
                "resourceId": self.cluster_resource_id,
                "computeType": self.type,
                "computeLocation": self.cluster_location,
                "provisioningState": self.provisioning_state,
                "provisioningErrors": self.provisioning_errors,
                "properties": {
                    "vmSize": self.vm_size,
                    "vmPriority": self.vm_priority,
                    "scaleSettings": self.scale_settings.serialize(),
                    "userAccountCredentials": {
                        "adminUserName": self.admin_username,
                        "adminUserPassword": None,
                        "adminUserSshPublicKey": None,
                    },
                    "subnet": {"id": None},
                    "remoteLoginPortPublicAccess": self.remote_login_port_public_access,
                },
                "status": self.status.serialize(),
            },
        }

    def get(self) -> dict[str, Any]:
        """The target's record, as Azure ML's `get()` gives its service payload."""
        return ComputeTarget._get(self.workspace, self.name)

    def detach(self) -> None:
        raise ComputeTargetException("Detach is not supported for AmlCompute object. Try to use delete instead.")

    def update(
        self,
        min_nodes: int | None = None,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
    ) -> None:
        """Change the scale settings (what is not given stays): max_nodes bounds ParallelRunStep node counts."""
        if min_nodes is None and max_nodes is None and idle_seconds_before_scaledown is None:
            return
        scale = {
            "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "idle_seconds_before_scaledown": idle_seconds_before_scaledown,
        }
        self._patch({"scale_settings": {k: v for k, v in scale.items() if v is not None}})

    def add_identity(self, identity_type: str, identity_id: list[str] | None = None) -> None:
        """Record a managed identity for the cluster (the app's own identity is what runs use)."""
        _check_identity(identity_type, identity_id)
        self._patch({"identity": {"type": identity_type, "user_assigned": list(identity_id or [])}})

    def remove_identity(self, identity_id: list[str] | None = None) -> None:
        if self.identity_type is None:
            raise ComputeTargetException("Cannot remove identity. The compute has no identity assigned.")
        kept = [item for item in self.identity_id or {} if identity_id is not None and item not in identity_id]
        self._patch({"identity": {"type": "UserAssigned", "user_assigned": kept} if kept else None})

    def list_nodes(self) -> list[dict[str, Any]]:
        """No nodes: the app's instances run the work, and Azure Functions does not list them as nodes."""
        log.info("AmlCompute %s has no nodes of its own: the Function App's instances run its work", self.name)
        return []

    def get_active_runs(
        self, type: str | None = None, tags: Any = None, properties: Any = None, status: str | None = None
    ) -> Iterator[Any]:
        """The runs of the workspace's experiments that ask for this compute target and are not finished."""
        for experiment in Experiment.list(self.workspace):
            for run in experiment.get_runs(type=type, tags=tags, properties=properties, include_children=True):
                run_status = run.get_status()
                if (run_status == status if status else run_status in ACTIVE_STATUSES) and self.name in _targets(
                    getattr(run, "_record", None)
                ):
                    yield run

    @staticmethod
    def supported_vmsizes(workspace: Workspace, location: str | None = None) -> list[dict[str, Any]]:
        """None: the compute is the Function App, whose plan sets its instances' size."""
        log.info("no VM sizes: the Function App's plan sets the size of its instances")
        return []

    @staticmethod
    def list_usages(workspace: Workspace, show_all: bool = False, location: str | None = None) -> list[Any]:
        log.info("no VM usage to list: the compute is the Function App")
        return []

    @staticmethod
    def list_quotas(workspace: Workspace, location: str | None = None) -> list[Any]:
        log.info("no VM quotas to list: the Function App's plan sets its limits")
        return []

    @staticmethod
    def update_quotas(
        workspace: Workspace, vm_family: str, limit: int | None = None, location: str | None = None
    ) -> None:
        raise ComputeTargetException(
            f"cannot set a quota for {vm_family}: fninfer has no VM quotas (the Function App's plan sets its limits)"
        )


def _check_identity(identity_type: str | None, identity_id: list[str] | None) -> None:
    """Azure ML's rule: SystemAssigned takes no ids, UserAssigned needs them."""
    if identity_type is None:
        if identity_id:
            raise ComputeTargetException("identity_id given without an identity_type")
        return
    if identity_type not in IDENTITY_TYPES:
        raise ComputeTargetException(f"Invalid identity type {identity_type}: use one of {list(IDENTITY_TYPES)}")
    if identity_type == "UserAssigned" and not identity_id:
        raise ComputeTargetException("identity_id is required for a UserAssigned identity")
    if identity_type == "SystemAssigned" and identity_id:
        raise ComputeTargetException("identity_id cannot be given for a SystemAssigned identity")


def _targets(record: Any) -> set[str]:
    """Every compute target a run record names (a step's `compute_target`, at any depth)."""
    found: set[str] = set()
    if isinstance(record, dict):
        for key, value in record.items():
            if key == "compute_target" and isinstance(value, str):
                found.add(value)
            else:
                found |= _targets(value)
    elif isinstance(record, list):
        for item in record:
            found |= _targets(item)
    return found


class SslConfiguration:
    """Mirrors azureml's: an AKS cluster's SSL settings (recorded only: the app's TLS is Azure's)."""

    def __init__(
        self,
        status: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        cname: str | None = None,
        leaf_domain_label: str | None = None,
        overwrite_existing_domain: bool = False,
        renew: bool = False,
    ) -> None:
        self.status = status
        self.cert = cert
        self.key = key
        self.cname = cname
        self.leaf_domain_label = leaf_domain_label
        self.overwrite_existing_domain = overwrite_existing_domain
        self.renew = renew

    def serialize(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "cert": self.cert,
            "key": self.key,
            "cname": self.cname,
            "leafDomainLabel": self.leaf_domain_label,
            "overwriteExistingDomain": self.overwrite_existing_domain,
            "renew": self.renew,
        }

    @staticmethod
    def deserialize(object_dict: dict[str, Any] | None) -> SslConfiguration | None:
        if not object_dict:
            return None
        return SslConfiguration(
            object_dict.get("status"),
            object_dict.get("cert"),
            object_dict.get("key"),
            object_dict.get("cname"),
            object_dict.get("leafDomainLabel"),
            bool(object_dict.get("overwriteExistingDomain")),
            bool(object_dict.get("renew")),
        )


class AksCompute(ComputeTarget):
    """Mirrors `azureml.core.compute.AksCompute`: a name services deployed "to AKS" carry; settings are recorded."""

    type = "AKS"

    class ClusterPurpose:
        FAST_PROD = "FastProd"
        DEV_TEST = "DevTest"

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        super()._load(workspace, record)
        settings = record.get("settings") or {}
        self.agent_count: int = int(settings.get("agent_count") or 3)
        self.agent_vm_size: str = settings.get("vm_size") or "Standard_D3_v2"
        self.cluster_purpose: str = settings.get("cluster_purpose") or AksCompute.ClusterPurpose.FAST_PROD
        self.cluster_fqdn: str | None = None  # no cluster: services answer at the app's address
        self.system_services: list[Any] | None = None
        self.load_balancer_type: str = settings.get("load_balancer_type") or "PublicIp"
        self.load_balancer_subnet: str | None = settings.get("load_balancer_subnet")
        self.ssl_configuration = (
            SslConfiguration(status="Enabled", cname=settings.get("ssl_cname")) if settings.get("ssl_cname") else None
        )

    @staticmethod
    def provisioning_configuration(
        agent_count: int | None = None,
        vm_size: str | None = None,
        ssl_cname: str | None = None,
        ssl_cert_pem_file: str | None = None,
        ssl_key_pem_file: str | None = None,
        location: str | None = None,
        vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        service_cidr: str | None = None,
        dns_service_ip: str | None = None,
        docker_bridge_cidr: str | None = None,
        cluster_purpose: str | None = None,
        load_balancer_type: str | None = None,
        load_balancer_subnet: str | None = None,
    ) -> ProvisioningConfiguration:
        # The certificate and key files stay where they are: the app's TLS is Azure's.
        settings = {
            "agent_count": agent_count,
            "vm_size": vm_size,
            "ssl_cname": ssl_cname,
            "location": location,
            "vnet_resourcegroup_name": vnet_resourcegroup_name,
            "vnet_name": vnet_name,
            "subnet_name": subnet_name,
            "service_cidr": service_cidr,
            "dns_service_ip": dns_service_ip,
            "docker_bridge_cidr": docker_bridge_cidr,
            "cluster_purpose": cluster_purpose,
            "load_balancer_type": load_balancer_type,
            "load_balancer_subnet": load_balancer_subnet,
        }
        return ProvisioningConfiguration("AksCompute", **{k: v for k, v in settings.items() if v is not None})

    @staticmethod
    def attach_configuration(
        resource_group: str | None = None,
        cluster_name: str | None = None,
        resource_id: str | None = None,
        cluster_purpose: str | None = None,
        load_balancer_type: str | None = None,
        load_balancer_subnet: str | None = None,
    ) -> ProvisioningConfiguration:
        """What `ComputeTarget.attach` records for an existing cluster (which fninfer never reaches)."""
        if not resource_id and not (resource_group and cluster_name):
            raise ComputeTargetException("attach_configuration needs resource_id, or resource_group and cluster_name")
        settings = {
            "resource_group": resource_group,
            "cluster_name": cluster_name,
            "resource_id": resource_id,
            "cluster_purpose": cluster_purpose,
            "load_balancer_type": load_balancer_type,
            "load_balancer_subnet": load_balancer_subnet,
        }
        return ProvisioningConfiguration("AksCompute", **{k: v for k, v in settings.items() if v is not None})

    @staticmethod
    def attach(workspace: Workspace, name: str, resource_id: str) -> ComputeTarget:  # type: ignore[override]
        """Azure ML's older form of attaching a cluster by its resource id."""
        return ComputeTarget.attach(workspace, name, AksCompute.attach_configuration(resource_id=resource_id))

    def update(self, update_configuration: AksUpdateConfiguration) -> None:
        """Record new SSL or load balancer settings."""
        update_configuration.validate_configuration()
        ssl = update_configuration.ssl_configuration
        settings = {
            "load_balancer_type": update_configuration.load_balancer_type,
            "load_balancer_subnet": update_configuration.load_balancer_subnet,
            "ssl_cname": getattr(ssl, "cname", None),
        }
        self._patch({"settings": {k: v for k, v in settings.items() if v is not None}})

    def get_credentials(self) -> dict[str, Any]:
        raise ComputeTargetException(
            f"AksCompute {self.name!r} has no Kubernetes cluster, so no credentials: its services run on the "
            "Function App (get their keys with service.get_keys())"
        )

    def serialize(self) -> dict[str, Any]:
        return {
            **super().serialize(),
            "agent_count": self.agent_count,
            "agent_vm_size": self.agent_vm_size,
            "cluster_purpose": self.cluster_purpose,
            "load_balancer_type": self.load_balancer_type,
            "load_balancer_subnet": self.load_balancer_subnet,
            "is_attached": self.is_attached,
        }


# Azure ML's Workspace defaults for its cpu-cluster and gpu-cluster (here: _workspace.py cannot import this module).
Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2")
Workspace.DEFAULT_GPU_CLUSTER_CONFIGURATION = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6")
