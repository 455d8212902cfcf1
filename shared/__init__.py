"""The app's domain, by kind, read bottom-up (the layers in pyproject.toml, [tool.importlinter]):

core/       storage, layout (every storage name), errors, settings, and the helpers everything uses
registry/   what users register: models, datasets, datastores, environments, compute, code snapshots
runs/       run state: run records and their status, the run index, history and context, work leases, lanes
pipelines/  engine/ (definitions, steps, submit, publish), scripts/ (script steps and runs), batch/
services/   real-time services: deployment, scoring, keys, logs, metrics
schedules/  schedules: recurrences, data drops, the timer's runner
"""
