"""Trouble reports at partners over TMF621: what goes out, what comes back (an extension).

``requests`` says which partner requests a ticket's change makes; ``client`` speaks to a
partner's API; ``gateway`` carries the requests out (the dispatcher delivers them, with its
leases, retries and dead letters); ``inbox`` takes the partner's events at our listeners;
``links`` registers our listeners as hubs at the partners; ``directory`` shows the partners
to operators; ``dialect`` writes the requests in the TMF621 version a partner speaks (v5, or
v4) and reads its answers in the v5 form.
"""
