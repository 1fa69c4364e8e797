-- Adapts HTTP traffic around the gRPC-JSON transcoder.
--
-- Requests: drops headers whose names gRPC cannot carry as metadata (HTTP
-- allows e.g. `~` and `^` in names, gRPC keys only [0-9a-z_.-]); forwarded,
-- they would fail the whole call with INTERNAL.
local function drop_headers_grpc_cannot_carry(headers)
  local invalid = {}
  for name, _ in pairs(headers) do
    if string.sub(name, 1, 1) ~= ":" and string.find(name, "[^0-9a-z_.%-]") then
      invalid[#invalid + 1] = name
    end
  end
  for _, name in ipairs(invalid) do
    headers:remove(name)
  end
end

-- `GET /metrics` with `Accept: text/plain` (and not JSON) is the Prometheus
-- text: the transcoder routes by path only, so the path is switched to
-- /metrics/prometheus here, before the transcoder sees it.
local function route_prometheus_metrics(headers)
  if headers:get(":method") ~= "GET" then
    return
  end
  local path = headers:get(":path")
  if path ~= "/metrics" and string.sub(path, 1, 9) ~= "/metrics?" then
    return
  end
  local accept = headers:get("accept")
  if accept ~= nil and string.find(accept, "text/plain", 1, true) and not string.find(accept, "json", 1, true) then
    headers:replace(":path", "/metrics/prometheus" .. string.sub(path, 9))
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  drop_headers_grpc_cannot_carry(headers)
  route_prometheus_metrics(headers)
end

-- Responses: shapes gRPC errors that the transcoder turned into HTTP responses: the
-- server sends the finished body {"detail","code","timestamp"} and the
-- documented HTTP status as the x-error-body / x-http-status trailers, which
-- arrive here as response headers (a gRPC error is a trailers-only response).
-- Native gRPC responses (content-type application/grpc) pass untouched.
--
-- Fallback: a handler that sent initial metadata (response headers) before
-- failing turns the error into headers + trailers; the transcoder then
-- answers with the google.rpc.Status JSON as the body
-- ({"code":5,"message":…,"details":[{…"reason":…,"metadata":{"http_status":…}}]}).
-- That body is rewritten here into the same {"detail","code","timestamp"}.

-- The raw (still JSON-escaped) string value of the first "key":"…" in text.
local function json_string(text, key)
  local marker = '"' .. key .. '":"'
  local start = string.find(text, marker, 1, true)
  if start == nil then
    return nil
  end
  local i = start + #marker
  local first = i
  while i <= #text do
    local c = string.sub(text, i, i)
    if c == "\\" then
      i = i + 2
    elseif c == '"' then
      return string.sub(text, first, i - 1)
    else
      i = i + 1
    end
  end
  return nil
end

local function rewrite_status_body(handle, headers)
  local status = tonumber(headers:get(":status") or "200")
  if status == nil or status < 400 then
    return
  end
  local content_type = headers:get("content-type") or ""
  if string.sub(content_type, 1, 16) ~= "application/json" then
    return
  end
  local body = handle:body(true)
  if body == nil then
    return
  end
  local text = body:getBytes(0, body:length())
  if string.sub(text, 1, 8) ~= '{"code":' then
    return
  end
  local reason = json_string(text, "reason")
  local message = json_string(text, "message") or "Request failed"
  local http_status = json_string(text, "http_status")
  if reason == nil then
    -- Not from our server (no ErrorInfo): Envoy's own replies are shaped by
    -- local_reply_config.
    return
  end
  -- The headers object from before body() is no longer valid.
  headers = handle:headers()
  if http_status ~= nil and string.match(http_status, "^[1-5]%d%d$") then
    headers:replace(":status", http_status)
  end
  headers:remove("grpc-status-details-bin")
  body:setBytes('{"detail":"' .. message .. '","code":"' .. reason .. '","timestamp":"' ..
    os.date("!%Y-%m-%dT%H:%M:%SZ") .. '"}')
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local content_type = headers:get("content-type")
  if content_type ~= nil and string.sub(content_type, 1, 16) == "application/grpc" then
    return
  end
  local body = headers:get("x-error-body")
  if body == nil then
    -- A successful RPC may ask for another 2xx status (e.g. 204 No Content)
    -- with an x-http-status initial-metadata header.
    local success_status = headers:get("x-http-status")
    if success_status ~= nil and string.match(success_status, "^2%d%d$") then
      headers:remove("x-http-status")
      headers:replace(":status", success_status)
      if success_status == "204" then
        headers:remove("content-type")
        handle:body(true):setBytes("")
      end
      return
    end
    -- Only an error can need the fallback rewrite; reading the body of
    -- every successful response would buffer it in Lua.
    local status = headers:get(":status")
    if status ~= nil and string.sub(status, 1, 1) ~= "2" then
      rewrite_status_body(handle, headers)
    end
    return
  end
  local status = headers:get("x-http-status")
  headers:remove("x-error-body")
  headers:remove("x-http-status")
  headers:remove("grpc-status-details-bin")
  if status ~= nil then
    headers:replace(":status", status)
  end
  headers:replace("content-type", "application/json")
  handle:body(true):setBytes(body)
end
