// A browser-style client: CORS preflight + simple request with an Origin,
// then the /ws feed with the key in ?token= (browsers cannot set WebSocket
// headers) via the `ws` package. Prints one JSON report line.
//
//   node ws_client.mjs <http-base-url> <api-key> <origin>
import WebSocket from "ws";

const [base, apiKey, origin] = process.argv.slice(2);
const report = {};
const preflight = await fetch(`${base}/sessions`, {
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-api-key" },
});
report.preflight = { status: preflight.status, allowOrigin: preflight.headers.get("access-control-allow-origin") };
const created = await fetch(`${base}/sessions`, {
  method: "POST",
  headers: { origin, "content-type": "application/json", "x-api-key": apiKey },
  body: JSON.stringify({ session_id: "browser-client", session_name: "browser" }),
});
report.create = { status: created.status, allowOrigin: created.headers.get("access-control-allow-origin"), body: await created.json() };

const socket = new WebSocket(`${base.replace("http", "ws")}/ws?token=${encodeURIComponent(apiKey)}&session_id=browser-client`, { headers: { origin } });
report.messages = [];
await new Promise((resolve, reject) => {
  socket.on("message", async (raw) => {
    const message = JSON.parse(raw.toString());
    report.messages.push(message.type);
    if (message.type === "init") {
      await fetch(`${base}/sessions/browser-client/events`, {
        method: "POST",
        headers: { origin, "content-type": "application/json", "x-api-key": apiKey },
        body: JSON.stringify({ event_type: "pre_tool", tool_name: "Read" }),
      });
    }
    if (message.type === "event") { report.event = message.data; socket.close(); resolve(); }
  });
  socket.on("error", reject);
  setTimeout(() => reject(new Error("no event within 10 s")), 10000);
});
console.log(JSON.stringify(report));
