// Calls every unary RPC of every agentruntime.v1 service with @grpc/grpc-js,
// from the .proto files (no generated code): each must answer with OK or a
// domain error, never UNIMPLEMENTED/INTERNAL/UNKNOWN. Then a session round
// trip with a server stream. Prints one JSON report line.
//
//   node grpc_client.mjs <grpc-target> <api-key> <proto-root> <third-party-root>
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import fs from "node:fs";
import path from "node:path";

const [target, apiKey, protoRoot, thirdParty] = process.argv.slice(2);
const protoDir = path.join(protoRoot, "agentruntime", "v1");
const files = fs.readdirSync(protoDir).filter((f) => f.endsWith(".proto")).map((f) => path.join("agentruntime", "v1", f));
const definition = protoLoader.loadSync(files, { includeDirs: [protoRoot, thirdParty], keepCase: true, defaults: true, oneofs: true });
const loaded = grpc.loadPackageDefinition(definition);
const metadata = new grpc.Metadata();
metadata.set("x-api-key", apiKey);
const credentials = grpc.credentials.createInsecure();
const badCodes = new Set([grpc.status.UNIMPLEMENTED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.UNAVAILABLE]);

function unary(client, method, request) {
  return new Promise((resolve) => {
    client[method](request, metadata, { deadline: Date.now() + 10000 }, (error, response) =>
      resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, response }));
  });
}

const report = { services: {}, failures: [] };
for (const [name, service] of Object.entries(loaded.agentruntime.v1)) {
  if (typeof service !== "function" || !service.service) continue;
  const client = new service(target, credentials);
  report.services[name] = {};
  for (const [method, info] of Object.entries(service.service)) {
    if (info.requestStream || info.responseStream) continue;
    const outcome = await unary(client, method, {});
    report.services[name][method] = grpc.status[outcome.code] ?? outcome.code;
    if (badCodes.has(outcome.code)) report.failures.push(`${name}.${method}: ${grpc.status[outcome.code]} ${outcome.details}`);
  }
  client.close();
}

const sessions = new loaded.agentruntime.v1.SessionService(target, credentials);
const created = await unary(sessions, "CreateSession", { session_id: "node-client", session_name: "from node" });
if (created.code !== grpc.status.OK) report.failures.push(`CreateSession: ${created.details}`);
const watch = sessions.WatchSessions({ session_id: "node-client" }, metadata);
const feed = [];
const gotEvent = new Promise((resolve, reject) => {
  watch.on("data", (message) => { feed.push(message.type); if (message.type === "event") resolve(message); });
  watch.on("error", (error) => { if (error.code !== grpc.status.CANCELLED) reject(error); });
});
await new Promise((resolve) => setTimeout(resolve, 200));
const appended = await unary(sessions, "CreateEvent", { session_id: "node-client", event: { event_type: "message", role: "assistant", content: [{ fields: { type: { stringValue: "text" }, text: { stringValue: "hi from node" } } }] } });
if (appended.code !== grpc.status.OK) report.failures.push(`CreateEvent: ${appended.details}`);
const event = await gotEvent;
watch.cancel();
report.stream = { feed, sequence: event.data.sequence, role: event.data.role };
sessions.close();
console.log(JSON.stringify(report));
process.exit(0);
