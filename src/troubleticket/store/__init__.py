"""Storage: the port services depend on, and the adapters behind it."""
