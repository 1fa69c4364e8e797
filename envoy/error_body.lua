-- Shapes gRPC errors that the transcoder turned into HTTP responses: the
-- server sends the finished body {"detail","code","timestamp"} and the
-- documented HTTP status as the x-error-body / x-http-status trailers, which
-- arrive here as response headers (a gRPC error is a trailers-only response).
-- Native gRPC responses (content-type application/grpc) pass untouched.
-- A successful RPC may ask for another 2xx status (e.g. 204 No Content) with
-- an x-http-status initial-metadata header.
function envoy_on_response(handle)
  local headers = handle:headers()
  local body = headers:get("x-error-body")
  local content_type = headers:get("content-type")
  if content_type ~= nil and string.sub(content_type, 1, 16) == "application/grpc" then
    return
  end
  if body == nil then
    local success_status = headers:get("x-http-status")
    if success_status ~= nil and string.sub(success_status, 1, 1) == "2" then
      headers:remove("x-http-status")
      headers:replace(":status", success_status)
      if success_status == "204" then
        headers:remove("content-type")
        handle:body(true):setBytes("")
      end
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
