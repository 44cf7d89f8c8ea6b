"""Figures (matplotlib, imported lazily inside each plotting function)."""
