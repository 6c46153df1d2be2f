-- GET a random ticket by id; ids come one per line from the file named by BENCH_IDS.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local root = os.getenv("BENCH_ROOT")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", root .. "/troubleTicket/" .. ids[math.random(#ids)])
end
