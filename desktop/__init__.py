"""Heirloom's desktop app: PySide6 widgets, undo commands and the worker thread.

Everything that needs Qt lives here; ``desktop.app``'s command-line dispatch and ``desktop.selftest``
do not, so ``heirloom --version`` and ``heirloom --self-test`` never load Qt. From the core the app
imports only :mod:`core.api` and :mod:`core.edit` (import-linter contracts in pyproject.toml).
"""
