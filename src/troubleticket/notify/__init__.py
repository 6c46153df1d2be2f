"""Event notifications: the outbox the changes' events are recorded in (``outbox``), the hubs
that subscribe to them (``hubs``) and the listeners that take other systems' (``listeners``),
and their delivery: the dispatcher's passes (``dispatcher``), one attempt and its policy
(``delivery``), and the egress guard every outbound connection goes through (``egress``,
``guarded``).
"""
