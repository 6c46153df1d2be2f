"""What runs beside the requests: the loops (``loops``: the dispatcher's passes, the SLA monitor,
the partner links, each in a thread of its own), the lease that lets one process of several run
them (``lease``), and the SLA monitor itself (``monitor``).
"""
