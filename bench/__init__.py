"""Benchmarks: the server beside in-run baselines (bare Starlette, trivial Connexion)."""
