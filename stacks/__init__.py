"""Stacks of the default app: they compose the trustgrid_ha construct from validated settings."""
