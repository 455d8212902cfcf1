"""Batch inference pipelines: a ParallelRunStep run fanned out over a queue and fanned in exactly once.

    submit (HTTP)      definition.py, submit.py   validate, reuse an earlier output (reuse.py) or record NotStarted
      -> plan (queue)  planning.py                list the input, write mini-batch pages, Running, dispatch the window
      -> mini-batches  minibatch.py, entry_script.py
                       each lane (mini-batches i, i+cap, i+2cap, ...) runs in one invocation for up to LANE_SECONDS,
                       then hands its next mini-batch to the queue; cap = node_count x process_count_per_node
      -> fan-in        fanin.py                   the mini-batch that completes the run appends every result's rows
                                                  to parallel_run_step.txt, in mini-batch order, then Finished
    sweeper (timer)    sweeper.py, leases.py      re-enqueues work whose owner stopped renewing its lease

Exactly once, although queue delivery is at least once and instances die: a mini-batch's rows live only in its
result record, created once (If-None-Match) at `results/<index>`; every later step (progress bits, dispatching the
successor, the fan-in cursor) is idempotent and guarded by If-Match; and the output blob is appended only by the
holder of the fan-in lease, at the offset its persisted cursor names (`appendpos`), so a replayed append is
recognised and skipped rather than written twice. Statuses live in runs.py, progress counts in progress.py,
mini-batch logs in logs.py.
"""
