-- Success callbacks like the baseline's callbacks.lua, with the ids starting after an offset,
-- so that a second run in the same database settles payments the first run left pending.
-- usage: wrk ... -s callbacks_from.lua URL -- THREADS OFFSET
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  stride = tonumber(args[1] or "2")
  offset = tonumber(args[2] or "0")
  counter = tid
end
function request()
  counter = counter + stride
  local n = offset + counter + 1
  local body = '{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_' .. n ..
    '","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[' ..
    '{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"QB' .. n .. '"},' ..
    '{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254700000001}]}}}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
