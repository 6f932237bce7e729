"""Federated runs: the round engine and everything around it, free of ``clients/``/``server/``.

:mod:`.engine` (a round from sampling to its record), :mod:`.vehicle` (what a vehicle does with
its instruction), :mod:`.methods`, :mod:`.faults`, :mod:`.server_opt`, :mod:`.record`,
:mod:`.results` (atomic results folders), :mod:`.centralized`, :mod:`.common` (models, payloads,
sampling, the fleet metric, data caches) and :mod:`.harness` (points → one simulation-engine
start; the Flower apps are handed in by ``dqfl.cli.apps``). Heavy imports stay inside functions.
"""
