"""What every pipeline step shares (`azureml.pipeline.core.PipelineStep`: a name and `run_after`), and
`StepSequence`, which orders steps without data between them."""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidInput


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
