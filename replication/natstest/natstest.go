// Package natstest starts an embedded nats-server with JetStream for the
// tests of replication and of the commands that use it.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// Run starts a loopback nats-server with JetStream storing in dir, on port
// (-1 picks a free one); the test's end stops it. Restarting on the same
// dir and port brings back the same streams.
func Run(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "NATS did not start")
	t.Cleanup(s.Shutdown)
	return s
}
