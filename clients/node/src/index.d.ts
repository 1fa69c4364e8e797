import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { GrpcTransportOptions } from "@connectrpc/connect-node";

import type { AgentService } from "./gen/agentruntime/v1/agent_pb.js";
import type { ComputeService } from "./gen/agentruntime/v1/compute_pb.js";
import type { DocsService } from "./gen/agentruntime/v1/docs_pb.js";
import type { IdentityService } from "./gen/agentruntime/v1/identity_pb.js";
import type { MLService } from "./gen/agentruntime/v1/ml_pb.js";
import type { Event, SessionService } from "./gen/agentruntime/v1/session_pb.js";
import type { ErrorInfo } from "./gen/google/rpc/error_details_pb.js";

export * from "./gen/agentruntime/v1/agent_pb.js";
export * from "./gen/agentruntime/v1/common_pb.js";
export * from "./gen/agentruntime/v1/compute_pb.js";
export * from "./gen/agentruntime/v1/docs_pb.js";
export * from "./gen/agentruntime/v1/identity_pb.js";
export * from "./gen/agentruntime/v1/ml_pb.js";
export * from "./gen/agentruntime/v1/session_pb.js";
export { Code, ConnectError };

export interface AgentRuntimeClientOptions {
  /** The gRPC server, e.g. `http://localhost:50051`. */
  baseUrl: string;
  /** Sent as `x-api-key` (AGENT_API_KEY or an issued md_ key). */
  apiKey?: string;
  /** Sent as `authorization: Bearer …` (a JWT from identity.login, or an md_ key). */
  bearerToken?: string;
  /** More options for the gRPC transport (TLS, timeouts, interceptors). */
  transport?: Partial<GrpcTransportOptions> & { interceptors?: Interceptor[] };
}

export interface AgentRuntimeClient {
  transport: Transport;
  sessions: Client<typeof SessionService>;
  agents: Client<typeof AgentService>;
  compute: Client<typeof ComputeService>;
  identity: Client<typeof IdentityService>;
  ml: Client<typeof MLService>;
  docs: Client<typeof DocsService>;
}

/** A client for each service, all on one HTTP/2 gRPC transport. */
export declare function createAgentRuntimeClient(options: AgentRuntimeClientOptions): AgentRuntimeClient;

/** The google.rpc.ErrorInfo the server attached to a failed call, if any. */
export declare function errorInfo(error: unknown): ErrorInfo | undefined;

/** The documented error code (ErrorInfo.reason, e.g. `SESSION_NOT_FOUND`), else the gRPC code's name. */
export declare function errorReason(error: unknown): string;

/**
 * The session's events as they are appended (first those after
 * `afterSequence` when given). When the stream breaks with UNAVAILABLE it
 * reconnects (for up to `reconnectTimeoutMs`) after the last event yielded.
 */
export declare function sessionEvents(
  client: AgentRuntimeClient,
  sessionId: string,
  options?: { afterSequence?: number; reconnectTimeoutMs?: number; signal?: AbortSignal },
): AsyncGenerator<Event>;
