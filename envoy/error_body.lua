-- Shapes gRPC errors that the transcoder turned into HTTP responses: the
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

-- `GET /metrics` with `Accept: text/plain` (and not JSON) is the Prometheus
-- text: the transcoder routes by path only, so the path is switched to
-- /metrics/prometheus here, before the transcoder sees it.
function envoy_on_request(handle)
  local headers = handle:headers()
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
