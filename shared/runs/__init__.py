"""Run state: the records pipeline, step and script runs move through (run_records.py, changed only by `transition`),
the run index, run history and context, the leases on work items, ParallelRunStep lanes, and allow_reuse's index."""
