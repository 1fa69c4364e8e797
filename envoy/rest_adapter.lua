-- Adapts HTTP traffic around the gRPC-JSON transcoder.
--
-- Requests: drops headers whose names gRPC cannot carry as metadata (HTTP
-- allows e.g. `~` and `^` in names, gRPC keys only [0-9a-z_.-]); forwarded,
-- they would fail the whole call with INTERNAL.
function envoy_on_request(handle)
  local invalid = {}
  for name, _ in pairs(handle:headers()) do
    if string.sub(name, 1, 1) ~= ":" and string.find(name, "[^0-9a-z_.%-]") then
      invalid[#invalid + 1] = name
    end
  end
  for _, name in ipairs(invalid) do
    handle:headers():remove(name)
  end
end

-- Responses: shapes gRPC errors that the transcoder turned into HTTP responses: the
-- server sends the finished body {"detail","code","timestamp"} and the
-- documented HTTP status as the x-error-body / x-http-status trailers, which
-- arrive here as response headers (a gRPC error is a trailers-only response).
-- Native gRPC responses (content-type application/grpc) pass untouched.
function envoy_on_response(handle)
  local headers = handle:headers()
  local body = headers:get("x-error-body")
  if body == nil then
    return
  end
  local content_type = headers:get("content-type")
  if content_type ~= nil and string.sub(content_type, 1, 16) == "application/grpc" then
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
