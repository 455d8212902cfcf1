"""The order of a pipeline's steps: inferred from data (a step that reads another step's output runs after it), plus
`run_after` for order without data, as Azure ML infers it. Steps come back in a topological order that keeps the
order they were given in wherever the dependencies allow, each with `depends_on`: the names of the steps it waits
for."""

from __future__ import annotations

from typing import Any

from shared.core.errors import InvalidInput

Step = dict[str, Any]


def outputs_of(step: Step) -> list[dict[str, Any]]:
    """A step's outputs: a ParallelRunStep's one `output`, a script step's `outputs`."""
    if step["type"] == "ParallelRunStep":
        return [step["output"]]
    return list(step["outputs"])


def data_inputs_of(step: Step) -> list[dict[str, Any]]:
    """The inputs that are other steps' outputs (`{"name", "data": <output name>, ...}`)."""
    found = [step["input"]] if step["type"] == "ParallelRunStep" else list(step["inputs"])
    return [source for source in found if "data" in source]


def producers(steps: list[Step]) -> dict[str, str]:
    """{output name: the step that writes it}; an output name is written by one step."""
    found: dict[str, str] = {}
    for step in steps:
        for output in outputs_of(step):
            if output["name"] in found:
                raise InvalidInput(
                    f"steps {found[output['name']]!r} and {step['name']!r} both write an output named "
                    f"{output['name']!r}: each PipelineData or OutputFileDatasetConfig has one producer",
                    field="outputs",
                )
            found[output["name"]] = step["name"]
    return found


def ordered(steps: list[Step]) -> list[Step]:
    """The steps with `depends_on`, in a topological order; InvalidInput names a duplicate step, an input no step
    writes, an unknown `run_after`, or a cycle."""
    names = [step["name"] for step in steps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"step names must be unique in a pipeline; repeated: {duplicates}", field="steps")
    writers = producers(steps)
    depends: dict[str, set[str]] = {}
    for step in steps:
        needed: set[str] = set()
        for source in data_inputs_of(step):
            producer = writers.get(source["data"])
            if producer is None:
                raise InvalidInput(
                    f"step {step['name']!r} reads {source['data']!r}, which no step of the pipeline writes "
                    "(add the step that produces it to the pipeline)",
                    field="inputs",
                )
            if producer == step["name"]:
                raise InvalidInput(f"step {step['name']!r} reads its own output {source['data']!r}", field="inputs")
            needed.add(producer)
        for other in step["run_after"]:
            if other not in names:
                raise InvalidInput(f"step {step['name']!r} runs after {other!r}, which is not in the pipeline")
            if other == step["name"]:
                raise InvalidInput(f"step {step['name']!r} cannot run after itself", field="run_after")
            needed.add(other)
        depends[step["name"]] = needed
    order: list[Step] = []
    placed: set[str] = set()
    remaining = list(steps)
    while remaining:
        ready = [step for step in remaining if depends[step["name"]] <= placed]
        if not ready:
            cycle = sorted(step["name"] for step in remaining)
            raise InvalidInput(f"the steps {cycle} depend on each other in a cycle", field="steps")
        for step in ready:
            order.append({**step, "depends_on": sorted(depends[step["name"]])})
            placed.add(step["name"])
        remaining = [step for step in remaining if step["name"] not in placed]
    return order
