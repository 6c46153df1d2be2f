"""TMF621 v5 Trouble Ticket server."""

__version__ = "0.1.0"
