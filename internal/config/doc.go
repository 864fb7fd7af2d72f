// Package config owns what the user writes: it reads berth.yaml and the
// compose files it names or that docker compose would find (the default
// file and its override, a compose: list, COMPOSE_FILE, .env, profiles),
// applies production defaults and the Docker CLI's environment conventions
// (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), and rejects anything
// berth cannot honour with the file, line, column and key path of the
// offending input plus a fix. Non-fatal problems (an unset variable) come
// back as positioned warnings; no library writes to the user directly.
//
// Every other package reads a *Config and never the files themselves, so
// validation happens once, here, and all problems are reported together
// rather than one per run.
package config
