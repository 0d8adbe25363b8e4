"""`make chaos`: the crash test. Two APIs and two workers on PostgreSQL + Redis under mixed load,
one of them SIGKILLed every few seconds and restarted; then the load stops, the jobs settle, and
both the harness's own checks and `omnishelf doctor` must find nothing.

    python -m bench.chaos [--seconds 60] [--kill-every 2-5] [--seed 1] [--clients 8] [--keep-db]

Modules: `cluster` (the four processes and the killer), `world` (a fresh database and what the
load needs), `load` (retrying clients and the operation mix), `verify` (settling, the harness's
checks, the doctor, the report), `__main__` (options and the run).
"""
