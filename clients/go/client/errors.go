package client

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// ErrorInfo returns the google.rpc.ErrorInfo the server attached to err: its
// Reason is the documented error code (e.g. SESSION_NOT_FOUND), its Metadata
// holds `http_status` and `field.<name>` for each invalid field. Nil when err
// carries none (e.g. a transport error).
func ErrorInfo(err error) *errdetails.ErrorInfo {
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// Reason is ErrorInfo(err).Reason, or "" when err carries no ErrorInfo.
func Reason(err error) string {
	if info := ErrorInfo(err); info != nil {
		return info.Reason
	}
	return ""
}
