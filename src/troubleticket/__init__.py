"""TMF621 v5 Trouble Ticket server."""

import warnings

__version__ = "0.2.0"

# connexion imports Starlette's TestClient at import time, which warns about httpx on every
# start of every process; the server never uses the test client.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
