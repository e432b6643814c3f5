"""Flows: orchestration only. Each reads like a table of contents of task calls."""

from somearkiv.heartbeats import end_runs_without_waiting_for_heartbeats
from somearkiv.log import quiet_reported_failures

# a run that fails on purpose (somearkiv.runstate) must not log the engine's traceback, wherever it runs
quiet_reported_failures()
# nor wait up to a second at its end for Prefect's heartbeat thread (see somearkiv.heartbeats)
end_runs_without_waiting_for_heartbeats()
