// Creates a session, appends two events, lists them, watches the events
// after sequence 1 and shows the error reason of a call for a missing
// session. Prints one JSON object per step.
//   node examples/quickstart.mjs [http://localhost:50051] [api key]
import { create } from "@bufbuild/protobuf";
import { ConnectError, createAgentRuntimeClient, errorReason, EventSchema, sessionEvents } from "@agent-runtime/client";

const [baseUrl = "http://localhost:50051", apiKey = process.env.AGENT_API_KEY] = process.argv.slice(2);
const client = createAgentRuntimeClient({ baseUrl, apiKey });
const sessionId = process.env.SESSION_ID ?? `node-quickstart-${Date.now()}`;
/** @type {(step: string, fields: object) => void} */
const print = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

try {
  const { session } = await client.sessions.createSession({ sessionId, sessionName: "Node quickstart" });
  print("created", { session_id: session?.sessionId, status: session?.status });

  for (const toolName of ["Read", "Edit"]) {
    const event = create(EventSchema, { eventType: "pre_tool", toolName, toolInput: { file_path: "index.js" } });
    await client.sessions.createEvent({ sessionId, event });
  }
  const { events } = await client.sessions.listEvents({ sessionId });
  print("events", { event_types: events.map((event) => event.eventType) });

  for await (const event of sessionEvents(client, sessionId, { afterSequence: 1 })) {
    print("watched", { sequence: event.sequence, tool_name: event.toolName });
    break;
  }

  await client.sessions.getSession({ sessionId: `${sessionId}-missing` }).catch((error) => {
    print("missing", { reason: errorReason(error), error: ConnectError.from(error).message });
  });
} catch (error) {
  console.error(`failed: ${errorReason(error)}: ${ConnectError.from(error).message}`);
  process.exitCode = 1;
}
