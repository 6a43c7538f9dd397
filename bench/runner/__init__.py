"""bench/runner: the stages bench/run-bench drives, one module per concern.

Every stage function takes the run's Config (config.py) and returns a dict
with at least "status" ("ok", "failed" or "skipped") and, when not ok,
"error" (one line saying why) and, where a program failed, "stderr_tail".
A stage never raises for a failure of the thing it measures: the run goes on
to the next stage, and run-bench exits 1 at the end if any stage failed.
"""
