"""ParallelRunStep: planning, mini-batches, the entry script's contract, fan-in, mini-batch logs; and the sweeper and
watchdog that keep every run moving (they repair script steps too, so this package sits above engine/ and scripts/)."""
