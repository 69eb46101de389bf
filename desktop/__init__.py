"""Heirloom's desktop app: PySide6 widgets, undo commands and the worker thread.

Everything that needs Qt lives here; ``desktop.model`` and ``desktop.app``'s command-line dispatch do
not, so ``heirloom --version`` and ``heirloom --self-test`` never load Qt.
"""
