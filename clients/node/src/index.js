// Node client of Agent Runtime's gRPC API: the generated service descriptors
// and message types (src/gen, by protoc-gen-es), a client per service over
// @connectrpc/connect-node's gRPC transport with the credentials on every
// call, the server's error reason, and event streams that resume by sequence.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { AgentService } from "./gen/agentruntime/v1/agent_pb.js";
import { ComputeService } from "./gen/agentruntime/v1/compute_pb.js";
import { DocsService } from "./gen/agentruntime/v1/docs_pb.js";
import { IdentityService } from "./gen/agentruntime/v1/identity_pb.js";
import { MLService } from "./gen/agentruntime/v1/ml_pb.js";
import { SessionService } from "./gen/agentruntime/v1/session_pb.js";
import { ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

export * from "./gen/agentruntime/v1/agent_pb.js";
export * from "./gen/agentruntime/v1/common_pb.js";
export * from "./gen/agentruntime/v1/compute_pb.js";
export * from "./gen/agentruntime/v1/docs_pb.js";
export * from "./gen/agentruntime/v1/identity_pb.js";
export * from "./gen/agentruntime/v1/ml_pb.js";
export * from "./gen/agentruntime/v1/session_pb.js";
export { Code, ConnectError };

const FIRST_RECONNECT_DELAY_MS = 100;
const MAX_RECONNECT_DELAY_MS = 5000;

function credentials(apiKey, bearerToken) {
  return (next) => (request) => {
    if (apiKey) request.header.set("x-api-key", apiKey);
    if (bearerToken) request.header.set("authorization", `Bearer ${bearerToken}`);
    return next(request);
  };
}

export function createAgentRuntimeClient({ baseUrl, apiKey, bearerToken, transport = {} }) {
  const grpcTransport = createGrpcTransport({
    baseUrl,
    ...transport,
    interceptors: [credentials(apiKey, bearerToken), ...(transport.interceptors ?? [])],
  });
  return {
    transport: grpcTransport,
    sessions: createClient(SessionService, grpcTransport),
    agents: createClient(AgentService, grpcTransport),
    compute: createClient(ComputeService, grpcTransport),
    identity: createClient(IdentityService, grpcTransport),
    ml: createClient(MLService, grpcTransport),
    docs: createClient(DocsService, grpcTransport),
  };
}

export function errorInfo(error) {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}

export function errorReason(error) {
  return errorInfo(error)?.reason ?? Code[ConnectError.from(error).code];
}

export async function* sessionEvents(client, sessionId, { afterSequence, reconnectTimeoutMs = 60000, signal } = {}) {
  let last = afterSequence;
  let delay = FIRST_RECONNECT_DELAY_MS;
  let unreachableSince;
  for (;;) {
    try {
      for await (const message of client.sessions.watchSessions({ sessionId, afterSequence: last }, { signal })) {
        unreachableSince = undefined;
        delay = FIRST_RECONNECT_DELAY_MS;
        if (message.type !== "event" || !message.data) continue;
        if (last !== undefined && message.data.sequence <= last) continue;
        last = message.data.sequence;
        yield message.data;
      }
      return;
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince >= reconnectTimeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    }
  }
}
