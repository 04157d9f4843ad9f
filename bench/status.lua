-- Plain status polls: GET <path prefix><public id> for seeded payments, spread over the ids
-- so that the reads hit different rows.
-- usage: wrk ... -s status.lua URL -- PATH_PREFIX COUNT [QUERY] [OFFSET]
--   PATH_PREFIX  e.g. /api/payments/pay_bench_   COUNT  how many ids to cycle through
--   QUERY  e.g. ?wait=30   OFFSET  ids start at OFFSET + 1
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1] or "/api/payments/pay_bench_"
  count = tonumber(args[2] or "200000")
  query = args[3] or ""
  offset = tonumber(args[4] or "0")
  counter = tid * 7919
end
function request()
  counter = counter + 1
  return wrk.format("GET", prefix .. (offset + (counter % count) + 1) .. query)
end
