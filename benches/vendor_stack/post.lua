-- wrk script of the `vendor_stack` bench: POSTs one envelope (the file VENDOR_STACK_BODY) with
-- the request headers PHP's SoapClient sent (the file VENDOR_STACK_HEADERS, `Name: value` a
-- line) on every connection, and prints one JSON line with the totals when done.
local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    return text
end

wrk.method = "POST"
wrk.body = read(os.getenv("VENDOR_STACK_BODY"))
for line in read(os.getenv("VENDOR_STACK_HEADERS")):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then
        wrk.headers[name] = value
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "wrk-json {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
        "\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d," ..
        "\"status_errors\":%d,\"timeouts\":%d," ..
        "\"p50_us\":%d,\"p95_us\":%d,\"p99_us\":%d}\n",
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
