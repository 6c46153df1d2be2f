"""HTTP edge: thin async handlers, request/response shaping, and the TMF Error mapping."""
