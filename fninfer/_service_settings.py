"""The objects Azure ML's ACI and AKS services describe their settings with (`service.autoscaler.max_replicas`,
`service.container_resource_requirements.cpu`, ...), built from the settings a fninfer service recorded.

On Functions these settings are recorded, not applied: Azure Functions sizes and scales the app (see
fninfer/_webservice.py). Each value is the one given at deployment, else Azure ML's default for it, so code that
reads them reads what it would in Azure ML. `serialize()` / `deserialize()` use Azure ML's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Azure ML's defaults for the settings below, when a deployment configuration leaves them out.
DEFAULT_CPU_CORES = 0.1
DEFAULT_MEMORY_GB = 0.5
DEFAULT_SCORING_TIMEOUT_MS = 60000
DEFAULT_MAX_CONCURRENT_REQUESTS = 1
DEFAULT_MAX_REQUEST_WAIT_MS = 500


@dataclass
class ContainerResourceRequirements:
    """Mirrors azureml's: the CPU and memory a service asked for (recorded only)."""

    cpu: float | None
    memory_in_gb: float | None
    gpu: int | None = None
    cpu_limit: float | None = None
    memory_in_gb_limit: float | None = None

    def serialize(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "memoryInGB": self.memory_in_gb,
            "gpu": self.gpu,
            "cpuLimit": self.cpu_limit,
            "memoryInGBLimit": self.memory_in_gb_limit,
        }

    @staticmethod
    def deserialize(payload_obj: dict[str, Any] | None) -> ContainerResourceRequirements | None:
        if not payload_obj:
            return None
        return ContainerResourceRequirements(
            payload_obj.get("cpu"),
            payload_obj.get("memoryInGB"),
            payload_obj.get("gpu"),
            payload_obj.get("cpuLimit"),
            payload_obj.get("memoryInGBLimit"),
        )

    @staticmethod
    def from_settings(settings: dict[str, Any]) -> ContainerResourceRequirements:
        return ContainerResourceRequirements(
            settings.get("cpu_cores", DEFAULT_CPU_CORES),
            settings.get("memory_gb", DEFAULT_MEMORY_GB),
            settings.get("gpu_cores"),
            settings.get("cpu_cores_limit"),
            settings.get("memory_gb_limit"),
        )


@dataclass
class AutoScaler:
    """Mirrors azureml's: an AKS service's autoscale settings (recorded only: Functions scales the app)."""

    autoscale_enabled: bool
    max_replicas: int
    min_replicas: int
    refresh_period_seconds: int
    target_utilization: int

    def serialize(self) -> dict[str, Any]:
        return {
            "autoscaleEnabled": self.autoscale_enabled,
            "maxReplicas": self.max_replicas,
            "minReplicas": self.min_replicas,
            "refreshPeriodInSeconds": self.refresh_period_seconds,
            "targetUtilization": self.target_utilization,
        }

    @staticmethod
    def deserialize(payload_obj: dict[str, Any] | None) -> AutoScaler | None:
        if not payload_obj:
            return None
        return AutoScaler(
            payload_obj.get("autoscaleEnabled", True),
            payload_obj.get("maxReplicas", 10),
            payload_obj.get("minReplicas", 1),
            payload_obj.get("refreshPeriodInSeconds", 1),
            payload_obj.get("targetUtilization", 70),
        )

    @staticmethod
    def from_settings(settings: dict[str, Any]) -> AutoScaler:
        enabled = settings.get("autoscale_enabled")
        return AutoScaler(
            settings.get("num_replicas") is None if enabled is None else bool(enabled),  # Azure ML's default
            settings.get("autoscale_max_replicas", 10),
            settings.get("autoscale_min_replicas", 1),
            settings.get("autoscale_refresh_seconds", 1),
            settings.get("autoscale_target_utilization", 70),
        )


@dataclass
class LivenessProbeRequirements:
    """Mirrors azureml's: an AKS service's liveness probe settings (recorded only: the host checks the app)."""

    period_seconds: int
    initial_delay_seconds: int
    timeout_seconds: int
    success_threshold: int
    failure_threshold: int

    def serialize(self) -> dict[str, Any]:
        return {
            "periodSeconds": self.period_seconds,
            "initialDelaySeconds": self.initial_delay_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "successThreshold": self.success_threshold,
            "failureThreshold": self.failure_threshold,
        }

    @staticmethod
    def deserialize(payload_obj: dict[str, Any] | None) -> LivenessProbeRequirements | None:
        if not payload_obj:
            return None
        return LivenessProbeRequirements(
            payload_obj.get("periodSeconds", 10),
            payload_obj.get("initialDelaySeconds", 310),
            payload_obj.get("timeoutSeconds", 2),
            payload_obj.get("successThreshold", 1),
            payload_obj.get("failureThreshold", 3),
        )

    @staticmethod
    def from_settings(settings: dict[str, Any]) -> LivenessProbeRequirements:
        return LivenessProbeRequirements(
            settings.get("period_seconds", 10),
            settings.get("initial_delay_seconds", 310),
            settings.get("timeout_seconds", 2),
            settings.get("success_threshold", 1),
            settings.get("failure_threshold", 3),
        )


@dataclass
class DataCollection:
    """Mirrors azureml's: whether model data collection was asked for (recorded only)."""

    event_hub_enabled: bool
    storage_enabled: bool

    def serialize(self) -> dict[str, Any]:
        return {"eventHubEnabled": self.event_hub_enabled, "storageEnabled": self.storage_enabled}

    @staticmethod
    def deserialize(payload_obj: dict[str, Any] | None) -> DataCollection | None:
        if not payload_obj:
            return None
        return DataCollection(bool(payload_obj.get("eventHubEnabled")), bool(payload_obj.get("storageEnabled")))


@dataclass
class EncryptionProperties:
    """Mirrors azureml's: the customer-managed key an ACI service asked for (recorded only)."""

    cmk_vault_base_url: str | None
    cmk_key_name: str | None
    cmk_key_version: str | None

    def serialize(self) -> dict[str, Any]:
        return {
            "vaultBaseUrl": self.cmk_vault_base_url,
            "keyName": self.cmk_key_name,
            "keyVersion": self.cmk_key_version,
        }

    @staticmethod
    def from_settings(settings: dict[str, Any]) -> EncryptionProperties | None:
        if not settings.get("cmk_vault_base_url"):
            return None
        return EncryptionProperties(
            settings.get("cmk_vault_base_url"), settings.get("cmk_key_name"), settings.get("cmk_key_version")
        )


@dataclass
class VnetConfiguration:
    """Mirrors azureml's: the virtual network an ACI service asked for (recorded only)."""

    vnet_name: str | None
    subnet_name: str | None

    def serialize(self) -> dict[str, Any]:
        return {"vnetName": self.vnet_name, "subnetName": self.subnet_name}

    @staticmethod
    def from_settings(settings: dict[str, Any]) -> VnetConfiguration | None:
        if not settings.get("vnet_name"):
            return None
        return VnetConfiguration(settings.get("vnet_name"), settings.get("subnet_name"))


@dataclass
class AksServiceAccessToken:
    """Mirrors azureml's: what `AksWebservice.get_access_token()` returns."""

    access_token: str
    token_type: str
    refresh_after: datetime
    expiry_on: datetime | None

    def serialize(self) -> dict[str, Any]:
        return {
            "accessToken": self.access_token,
            "tokenType": self.token_type,
            "refreshAfter": self.refresh_after,
            "expiryOn": self.expiry_on,
        }
