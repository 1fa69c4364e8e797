// Package client connects to an Agent Runtime server over gRPC: one
// connection with the credentials on every call, a typed client per service
// (generated in agentruntime.dev/go/agentruntime/v1), the server's error
// reason, and event streams that resume by sequence.
package client

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	agentruntimev1 "agentruntime.dev/go/agentruntime/v1"
)

// Options say how to reach the server and who is calling.
type Options struct {
	// APIKey is sent as `x-api-key` (AGENT_API_KEY, or an issued md_ key).
	APIKey string
	// BearerToken is sent as `authorization: Bearer …` (a JWT from
	// IdentityService.Login, or an md_ key).
	BearerToken string
	// TransportCredentials for TLS; nil connects in plaintext (a loopback
	// or in-cluster server).
	TransportCredentials credentials.TransportCredentials
}

// Client holds one connection and a client for each service.
type Client struct {
	Conn     *grpc.ClientConn
	Sessions agentruntimev1.SessionServiceClient
	Agents   agentruntimev1.AgentServiceClient
	Compute  agentruntimev1.ComputeServiceClient
	Identity agentruntimev1.IdentityServiceClient
	ML       agentruntimev1.MLServiceClient
	Docs     agentruntimev1.DocsServiceClient
}

// Dial connects to target (host:port); extra options go to grpc.DialContext.
func Dial(ctx context.Context, target string, options Options, extra ...grpc.DialOption) (*Client, error) {
	dialOptions := []grpc.DialOption{
		grpc.WithPerRPCCredentials(callCredentials{options: options}),
	}
	if options.TransportCredentials != nil {
		dialOptions = append(dialOptions, grpc.WithTransportCredentials(options.TransportCredentials))
	} else {
		dialOptions = append(dialOptions, grpc.WithInsecure())
	}
	conn, err := grpc.DialContext(ctx, target, append(dialOptions, extra...)...)
	if err != nil {
		return nil, err
	}
	return &Client{
		Conn:     conn,
		Sessions: agentruntimev1.NewSessionServiceClient(conn),
		Agents:   agentruntimev1.NewAgentServiceClient(conn),
		Compute:  agentruntimev1.NewComputeServiceClient(conn),
		Identity: agentruntimev1.NewIdentityServiceClient(conn),
		ML:       agentruntimev1.NewMLServiceClient(conn),
		Docs:     agentruntimev1.NewDocsServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	return c.Conn.Close()
}

type callCredentials struct {
	options Options
}

func (c callCredentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	metadata := map[string]string{}
	if c.options.APIKey != "" {
		metadata["x-api-key"] = c.options.APIKey
	}
	if c.options.BearerToken != "" {
		metadata["authorization"] = "Bearer " + c.options.BearerToken
	}
	return metadata, nil
}

// A plaintext connection may carry the key: the server decides whether it
// accepts keys from where the call comes from.
func (c callCredentials) RequireTransportSecurity() bool {
	return false
}
