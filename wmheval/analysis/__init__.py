"""Ranking-sensitivity analyses: metric weights, bootstrap over subjects, significance tests."""
