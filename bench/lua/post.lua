-- POST a new ticket.
local root = os.getenv("BENCH_ROOT")
wrk.method = "POST"
wrk.path = root .. "/troubleTicket"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"@type":"TroubleTicket","description":"No sync on the DSL line","severity":"Major",' ..
  '"ticketType":"incident","relatedParty":[{"@type":"RelatedPartyRefOrPartyRoleRef",' ..
  '"role":"customer","partyOrPartyRole":{"@type":"PartyRef","id":"42"}}]}'
