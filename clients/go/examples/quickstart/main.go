// Quickstart: creates a session, appends an event, lists the session's
// events and shows the error reason of a call for a missing session. Prints
// one JSON object per step.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	agentruntimev1 "agentruntime.dev/go/agentruntime/v1"
	"agentruntime.dev/go/client"
)

func main() {
	target := flag.String("target", "localhost:50051", "gRPC address of the server")
	apiKey := flag.String("api-key", os.Getenv("AGENT_API_KEY"), "API key (default $AGENT_API_KEY)")
	sessionID := flag.String("session", fmt.Sprintf("go-quickstart-%d", time.Now().UnixNano()), "session to create")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runtime, err := client.Dial(ctx, *target, client.Options{APIKey: *apiKey})
	if err != nil {
		log.Fatalf("dial %s: %v", *target, err)
	}
	defer runtime.Close()

	created, err := runtime.Sessions.CreateSession(ctx, &agentruntimev1.CreateSessionRequest{
		SessionId: *sessionID, SessionName: "Go quickstart",
	})
	if err != nil {
		log.Fatalf("CreateSession: %v (reason %s)", err, client.Reason(err))
	}
	print("created", map[string]any{"session_id": created.Session.SessionId, "status": created.Session.Status})

	for _, toolName := range []string{"Read", "Edit"} {
		toolName := toolName
		input, _ := structpb.NewStruct(map[string]any{"file_path": "main.go"})
		_, err = runtime.Sessions.CreateEvent(ctx, &agentruntimev1.CreateEventRequest{
			SessionId: *sessionID,
			Event:     &agentruntimev1.Event{EventType: "pre_tool", ToolName: &toolName, ToolInput: input},
		})
		if err != nil {
			log.Fatalf("CreateEvent: %v (reason %s)", err, client.Reason(err))
		}
	}
	listed, err := runtime.Sessions.ListEvents(ctx, &agentruntimev1.ListEventsRequest{SessionId: *sessionID})
	if err != nil {
		log.Fatalf("ListEvents: %v (reason %s)", err, client.Reason(err))
	}
	types := []string{}
	for _, event := range listed.Events {
		types = append(types, event.EventType)
	}
	print("events", map[string]any{"event_types": types})

	// The events after sequence 1, then live ones (reconnecting if the
	// server restarts); stop after the first.
	errEnough := errors.New("enough")
	err = runtime.WatchSessionEvents(ctx, *sessionID, 1, func(event *agentruntimev1.Event) error {
		print("watched", map[string]any{"sequence": event.Sequence, "tool_name": event.GetToolName()})
		return errEnough
	})
	if err != errEnough {
		log.Fatalf("WatchSessionEvents: %v (reason %s)", err, client.Reason(err))
	}

	_, err = runtime.Sessions.GetSession(ctx, &agentruntimev1.GetSessionRequest{SessionId: *sessionID + "-missing"})
	print("missing", map[string]any{"reason": client.Reason(err), "error": fmt.Sprint(err)})
}

func print(step string, fields map[string]any) {
	fields["step"] = step
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}
