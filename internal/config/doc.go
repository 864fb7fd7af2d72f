// Package config owns what the user writes: it reads berth.yaml and the
// compose file it points at, applies production defaults and the Docker
// CLI's environment conventions (DOCKER_HOST, DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH), and rejects anything berth cannot honour with the
// file, line, column and key path of the offending input plus a fix.
//
// Every other package reads a *Config and never the files themselves, so
// validation happens once, here, and all problems are reported together
// rather than one per run.
package config
