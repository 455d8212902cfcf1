"""What every pipeline step shares (`azureml.pipeline.core.PipelineStep`: a name and `run_after`), and
`StepSequence`, which orders steps without data between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fninfer._exceptions import UserErrorException
from shared.core.errors import InvalidInput


class PipelineStep:
    """Mirrors `azureml.pipeline.core.PipelineStep`: the base of ParallelRunStep and PythonScriptStep."""

    name: str

    def __init__(
        self,
        name: str,
        inputs: list[Any],
        outputs: list[Any],
        arguments: list[Any] | None = None,
        fix_port_name_collisions: bool = False,
        resource_inputs: list[Any] | None = None,
    ) -> None:
        """Azure ML's base constructor; fninfer's steps (ParallelRunStep, PythonScriptStep) are the ones that run."""
        self._init_step()
        self.name = name

    def _init_step(self) -> None:
        self._run_after: list[PipelineStep] = []

    @property
    def run_after_steps(self) -> list[PipelineStep]:
        """The steps given to run_after, as Azure ML lists them."""
        return list(self._run_after)

    @property
    def step_type(self) -> str:
        """The step's kind, as Azure ML names it ("PythonScriptStep", "ParallelRunStep")."""
        return type(self).__name__.removeprefix("Contrib")

    def get_source_directory(self, context: Any, source_directory: str | None, script_name: str) -> tuple[str, list]:
        """The step's source directory (the context's default_source_directory without one), after checking that
        the script is in it; and the paths hashed for reuse (the whole folder, as fninfer hashes it)."""
        directory = source_directory or getattr(context, "default_source_directory", None) or "."
        if not (Path(directory) / script_name).is_file():
            raise ValueError(f"Step [{self.name}]: script not found at: {Path(directory) / script_name}")
        return directory, [directory]

    @staticmethod
    def validate_arguments(arguments: list[Any] | None, inputs: list[Any], outputs: list[Any]) -> None:
        """Each input or output named in `arguments` is in `inputs` or `outputs`; ValueError names one that is
        not, as Azure ML's does."""
        for argument in arguments or []:
            if _is_data(argument) and _find(argument, [*inputs, *outputs]) is None:
                name = getattr(argument, "name", None) or getattr(argument, "data_reference_name", argument)
                raise ValueError(f"Input/Output {name} appears in arguments list but is not in the input/output lists")

    @staticmethod
    def resolve_input_arguments(
        arguments: list[Any], inputs: list[Any], outputs: list[Any], params: Any
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        """Azure ML's pair: the arguments with each input or output replaced by the one of `inputs` / `outputs` it
        matches, and each argument described ({"kind": "input" | "output" | "parameter" | "string", ...})."""
        resolved: list[Any] = []
        described: list[dict[str, Any]] = []
        for argument in arguments:
            match = _find(argument, inputs) if _is_data(argument) else None
            if match is not None:
                resolved.append(match)
                described.append({"kind": "input", "name": _data_name(match)})
            elif _is_data(argument) and (match := _find(argument, outputs)) is not None:
                resolved.append(match)
                described.append({"kind": "output", "name": _data_name(match)})
            elif type(argument).__name__ == "PipelineParameter":
                resolved.append(argument)
                described.append({"kind": "parameter", "name": argument.name})
            else:
                resolved.append(argument)
                described.append({"kind": "string", "value": str(argument)})
        return resolved, described

    def create_node(self, graph: Any, default_datastore: Any, context: Any) -> Any:
        raise _builder_internal("create_node")

    def create_module_def(
        self,
        execution_type: str,
        input_bindings: list[Any],
        output_bindings: list[Any],
        param_defs: list[Any] | None = None,
        create_sequencing_ports: bool = True,
        allow_reuse: bool = True,
        version: str | None = None,
        module_type: str | None = None,
        arguments: list[Any] | None = None,
        runconfig: Any = None,
        cloud_settings: Any = None,
    ) -> Any:
        raise _builder_internal("create_module_def")

    def create_input_output_bindings(
        self, inputs: list[Any], outputs: list[Any], default_datastore: Any, resource_inputs: list[Any] | None = None
    ) -> Any:
        raise _builder_internal("create_input_output_bindings")

    def run_after(self, step: PipelineStep) -> None:
        """Run this step only after `step` has finished (in addition to what its inputs require)."""
        if not isinstance(step, PipelineStep):
            raise InvalidInput(f"run_after takes a step, not {type(step).__name__}", field="step")
        if step is self:
            raise InvalidInput(f"step {self.name!r} cannot run after itself", field="step")
        if step not in self._run_after:
            self._run_after.append(step)

    def _step_inputs(self) -> list[Any]:
        """The step's inputs (datasets and step data), as consumption configs."""
        return []

    def _upstream(self) -> list[PipelineStep]:
        """The steps this one runs after: those that write its inputs, and those given to run_after."""
        from fninfer._step_data import producer_of

        writers = [producer_of(source) for source in self._step_inputs()]
        return [step for step in writers if step is not None] + list(self._run_after)

    def _spec(self, workspace: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _environment(self) -> Any:
        """The step's Environment (None: the app's own)."""
        return None


def _builder_internal(method: str) -> UserErrorException:
    return UserErrorException(
        f"PipelineStep.{method} builds Azure ML's module graph (modules, nodes, port bindings), which fninfer does "
        "not have: a fninfer pipeline is a JSON definition the app runs, built by Pipeline.submit / publish"
    )


def _is_data(value: Any) -> bool:
    """An input or output a step's arguments can name (a dataset input, step data, a DataReference...)."""
    return hasattr(value, "_origin") or type(value).__name__ in (
        "DatasetConsumptionConfig",
        "DataReference",
        "PortDataReference",
    )


def _data_name(value: Any) -> str:
    return str(getattr(value, "name", None) or getattr(value, "data_reference_name", ""))


def _find(argument: Any, candidates: list[Any]) -> Any:
    """The candidate that is `argument`, or what it is made from (a consumption config of it), or has its name."""
    for candidate in candidates:
        if candidate is argument or getattr(candidate, "dataset", None) is argument:
            return candidate
    for candidate in candidates:
        if _is_data(candidate) and _data_name(candidate) == _data_name(argument):
            return candidate
    return None


class StepSequence:
    """Mirrors `azureml.pipeline.core.StepSequence`: each element (a step, or a list of steps that may run at once)
    runs after every step of the element before it."""

    def __init__(self, steps: list[Any] | None = None) -> None:
        self._steps: list[list[PipelineStep]] = []
        for element in steps or []:
            group = list(element) if isinstance(element, list | tuple) else [element]
            if not group or not all(isinstance(step, PipelineStep) for step in group):
                raise InvalidInput("a StepSequence holds steps, or lists of steps", field="steps")
            for step in group:
                for before in self._steps[-1] if self._steps else []:
                    step.run_after(before)
            self._steps.append(group)

    @property
    def steps(self) -> list[PipelineStep]:
        return [step for group in self._steps for step in group]

    def __repr__(self) -> str:
        return f"StepSequence(steps={[step.name for step in self.steps]})"


def flatten(steps: Any) -> list[PipelineStep]:
    """A Pipeline's `steps`: a step, a StepSequence, or a list of them (nested lists too)."""
    if isinstance(steps, StepSequence):
        return steps.steps
    if isinstance(steps, PipelineStep):
        return [steps]
    if isinstance(steps, list | tuple):
        return [step for item in steps for step in flatten(item)]
    raise InvalidInput(f"a pipeline's steps are steps or StepSequences, not {type(steps).__name__}", field="steps")
