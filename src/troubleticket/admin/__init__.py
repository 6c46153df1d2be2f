"""What the operator's verbs of the ``troubleticket`` command do: list and replay deliveries
(``deliveries``), show the tickets whose SLAs are at risk (``board``), and check a configuration
without serving it (``config_check``).

Framework-free: each function takes the store or the services it works on and returns data (or
rows of text for a table); the ``cli`` package parses the arguments and prints. The services are
the ones the API uses (``HubService`` and ``PartnerDirectory`` for deliveries, the composition
root's loaders for the configuration), so a verb means what the matching API operation means.
"""
