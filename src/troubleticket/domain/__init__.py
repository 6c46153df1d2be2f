"""Pure business rules: standard library only, no I/O, never reads the clock."""
