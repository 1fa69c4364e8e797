package client

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentruntimev1 "agentruntime.dev/go/agentruntime/v1"
)

const maxReconnectDelay = 5 * time.Second

// WatchSessionEvents calls handle with each event of the session appended
// after afterSequence (0: from now on), live, until ctx ends or handle
// returns an error. When the stream breaks with UNAVAILABLE (a restarting
// server, a dropped connection) it reconnects and replays from the last
// event handed over, so no event is skipped or repeated.
func (c *Client) WatchSessionEvents(ctx context.Context, sessionID string, afterSequence int32, handle func(*agentruntimev1.Event) error) error {
	last := afterSequence
	delay := 100 * time.Millisecond
	for {
		request := &agentruntimev1.WatchSessionsRequest{SessionId: sessionID}
		setAfterSequence(request, last)
		// WaitForReady: while the server is down the call waits for it
		// (bounded by ctx) instead of failing at once.
		stream, err := c.Sessions.WatchSessions(ctx, request, grpc.WaitForReady(true))
		for err == nil {
			var message *agentruntimev1.WatchSessionsResponse
			if message, err = stream.Recv(); err != nil {
				break
			}
			delay = 100 * time.Millisecond
			if message.Type == "event" && message.Data.GetSequence() > last {
				last = message.Data.GetSequence()
				if err := handle(message.Data); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if status.Code(err) != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > maxReconnectDelay {
			delay = maxReconnectDelay
		}
	}
}

// setAfterSequence sets the field through reflection, which works whether
// the proto declares it `optional` (a *int32 in Go) or not; 0 leaves it
// unset (no replay).
func setAfterSequence(request protoreflect.ProtoMessage, sequence int32) {
	if sequence == 0 {
		return
	}
	message := request.ProtoReflect()
	message.Set(message.Descriptor().Fields().ByName("after_sequence"), protoreflect.ValueOfInt32(sequence))
}
