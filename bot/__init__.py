"""Adapters, the CLI and the composition root: the only layer that knows them all."""
