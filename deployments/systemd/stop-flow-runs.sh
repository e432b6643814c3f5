#!/bin/sh
# ExecStop of somearkiv-worker.service: end a Prefect worker's flow runs one by one, so that each
# reports its end ("Crashed": aborted by a termination signal) before the worker itself is
# stopped. A run whose process is ended together with its worker stays "Running" on the server
# for good (measured with Prefect 3.9.1; README, "Running as a service").
#
#   stop-flow-runs.sh WORKER_PID [SECONDS]
#
# Sends SIGTERM to the worker's child processes (its flow runs, and nothing else), then waits up
# to SECONDS (default 20) for them to exit. Needs pkill and pgrep (Debian: procps).
set -u
worker="${1:-}"
seconds="${2:-20}"
case "$worker" in ''|*[!0-9]*) exit 0 ;; esac  # no main process: nothing to do
pkill -TERM -P "$worker" 2>/dev/null || exit 0  # no children: no run in progress
waited=0
while pgrep -P "$worker" >/dev/null 2>&1 && [ "$waited" -lt "$seconds" ]; do
  sleep 1
  waited=$((waited + 1))
done
exit 0
