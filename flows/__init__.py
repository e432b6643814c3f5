"""Flows: orchestration only. Each reads like a table of contents of task calls."""

from somearkiv.log import quiet_reported_failures

# a run that fails on purpose (somearkiv.runstate) must not log the engine's traceback, wherever it runs
quiet_reported_failures()
