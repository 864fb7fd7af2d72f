// Package engine is berth's only door to a Docker engine. It owns connecting
// (unix://, tcp:// with TLS), API version negotiation, and the translation
// between berth's own neutral types (ContainerSpec, ContainerInfo, ...) and
// the Docker SDK's. No other package imports the SDK, so an engine API change
// lands here and nowhere else.
package engine
