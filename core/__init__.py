"""Heirloom core: colour maths, image I/O, networks, the colorization pipeline and its API."""
