"""Pipelines: engine/ (definitions, steps, submit), scripts/ (script steps), batch/ (ParallelRunStep). Batch inference
pipelines: a ParallelRunStep run fanned out over a queue and fanned in exactly once.

    submit (HTTP)      definition.py, submit.py   validate, reuse an earlier output (reuse.py) or record NotStarted
      -> plan (queue)  planning.py                list the input, write mini-batch pages, Running, create the lanes;
                                                  the planning instance runs the lanes it has slots for itself
      -> mini-batches  minibatch.py, lanes.py, entry_script.py
                       each lane (mini-batches i, i+cap, i+2cap, ...) runs in one invocation for up to LANE_SECONDS,
                       then hands its next mini-batch to the queue; cap = node_count x process_count_per_node
      -> fan-in        fanin.py                   the lane that completes the run appends every result's rows to
                                                  parallel_run_step.txt, in mini-batch order, then Finished
    sweeper (timer)    sweeper.py, work_leases.py     re-enqueues work whose owner stopped renewing its hold

Exactly once, although queue delivery is at least once and instances die: a mini-batch's rows live only in its
lane's chunk that records it, and chunks are created once (If-None-Match) at the lane's end, so they form one chain
per lane in which each mini-batch appears exactly once (lanes.py); the output blob is appended only by the holder of
the fan-in lease, at the offset its persisted cursor names (`appendpos`), so a replayed append is recognised and
skipped rather than written twice. Progress counts are the chunks' own (lanes.py), statuses live in
shared/runs/run_records.py, mini-batch logs in batch/minibatch_logs.py.
"""
