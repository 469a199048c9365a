"""The ``rblock-pilot`` command: the composition root that dispatches to rblock, the service and the worker.

It is the one package allowed to reach into every other (import-linter forbids the reverse), and it
imports each part only when its subcommand runs, so ``rblock-pilot train`` needs no server packages and
``rblock-pilot api`` needs no torch.
"""
