-- Merge-patch a random working ticket to inProgress or pending: a status change every time
-- the draw differs from its current status, always allowed by the lifecycle.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local root = os.getenv("BENCH_ROOT")
local statuses = { "inProgress", "pending" }
math.randomseed(os.time())
request = function()
  local body = '{"@type":"TroubleTicket","status":"' .. statuses[math.random(2)] .. '"}'
  return wrk.format("PATCH", root .. "/troubleTicket/" .. ids[math.random(#ids)],
    { ["Content-Type"] = "application/merge-patch+json" }, body)
end
