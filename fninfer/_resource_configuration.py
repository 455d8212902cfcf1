"""`ResourceConfiguration`, as in `azureml.core.resource_configuration`: what a model asks of its host.

Recorded on the model version; Azure Functions sizes the app itself, so it changes nothing at run time.
"""

from __future__ import annotations

from typing import Any


class ResourceConfiguration:
    def __init__(self, cpu: float | None = None, memory_in_gb: float | None = None, gpu: int | None = None) -> None:
        self.cpu = cpu
        self.memory_in_gb = memory_in_gb
        self.gpu = gpu

    def serialize(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "memory_in_gb": self.memory_in_gb, "gpu": self.gpu}

    @staticmethod
    def deserialize(payload_obj: dict[str, Any]) -> ResourceConfiguration:
        return ResourceConfiguration(payload_obj.get("cpu"), payload_obj.get("memory_in_gb"), payload_obj.get("gpu"))

    def __repr__(self) -> str:
        return f"ResourceConfiguration(cpu={self.cpu}, memory_in_gb={self.memory_in_gb}, gpu={self.gpu})"
