"""Flows: orchestration only. Each reads like a table of contents of task calls."""
