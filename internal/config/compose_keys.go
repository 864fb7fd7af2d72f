package config

// composeKey is one key of the Compose Specification and what berth does
// with it. The table is the single answer to "does berth honour this?":
// rejectUnsupported refuses by it, docs/compose.md is generated from it
// (a test keeps the two identical), and a test checks it lists every key
// of compose-go's schema, so a key added upstream cannot slip through
// unreviewed.
type composeKey struct {
	// Scope is where the key lives: top (the file's top level), service,
	// deploy (services.*.deploy), network, volume, config, secret (the
	// top-level definitions).
	Scope string
	Key   string
	// Honoured keys take effect on the container or the deploy; Note says
	// how. Refused keys are errors, positioned at the key; Note says why
	// and Fix what to do instead.
	Honoured bool
	Note     string
	Fix      string
}

func ok(scope, key, note string) composeKey {
	return composeKey{Scope: scope, Key: key, Honoured: true, Note: note}
}

func no(scope, key, why, fix string) composeKey {
	return composeKey{Scope: scope, Key: key, Note: why, Fix: fix}
}

const (
	whyWindows = "Windows containers only; berth runs Linux engines"
	whySwarm   = "a Swarm setting: outside Swarm no engine object carries it, and docker compose ignores it too"
	whyLegacy  = "a legacy key outside the Compose Specification"
)

// composeKeys lists every key, by scope then name. Keep it sorted: the
// docs table follows this order.
var composeKeys = []composeKey{
	ok("top", "configs", "definitions of the configs services mount (see the config rows)"),
	ok("top", "include", "read as docker compose reads it: the included files' services, networks and volumes join the project"),
	no("top", "jobs", "berth deploys long-running services; run-to-completion jobs are not run", "run the job outside berth (in CI, or with `docker compose run`), and remove jobs:"),
	no("top", "models", "Docker Model Runner models need Docker Desktop's model runner, which a production engine does not have", "run the model server as a service with an image, and remove models:"),
	ok("top", "name", "replaced by berth.yaml's app:, which names everything berth creates (as `docker compose -p <app>` would): named volumes and networks are <app>_<key> unless they set name:"),
	ok("top", "networks", "definitions of the networks services join (see the network rows)"),
	ok("top", "secrets", "definitions of the secrets services mount (see the secret rows)"),
	ok("top", "services", "every service is deployed as berth.yaml places it"),
	ok("top", "version", "obsolete; ignored, as docker compose ignores it"),
	ok("top", "volumes", "definitions of the named volumes services mount (see the volume rows)"),

	no("service", "annotations", "container annotations need Engine API 1.43; berth also deploys to API 1.41 engines, which would drop them", "remove annotations: (use labels: for metadata)"),
	ok("service", "attach", "accepted: berth never attaches to a container's output (`berth logs` reads it), so there is nothing to change"),
	ok("service", "blkio_config", "weight, weight_device, device_read_bps, device_write_bps, device_read_iops and device_write_iops set the container's block IO cgroup"),
	ok("service", "build", "built by `berth deploy` through the engine (see the build documentation)"),
	ok("service", "cap_add", "added capabilities; the policy judges them"),
	ok("service", "cap_drop", "dropped capabilities"),
	ok("service", "cgroup", "cgroup namespace mode (host or private)"),
	ok("service", "cgroup_parent", "the container's parent cgroup"),
	ok("service", "command", "replaces the image's CMD"),
	ok("service", "configs", "file: bind-mounted read-only at the target (default /<name>); content: and environment: written into the container before it starts, mode 0444 unless mode: says otherwise, with uid:/gid:"),
	no("service", "container_name", "a deploy runs the new release beside the old one, so no single fixed name can hold both; berth names containers <app>-<service>-<release>", "remove container_name: (other services reach it by its service name)"),
	no("service", "cpu_count", whyWindows, "remove cpu_count: (use cpus: or deploy.resources.limits.cpus)"),
	no("service", "cpu_percent", whyWindows, "remove cpu_percent: (use cpus: or deploy.resources.limits.cpus)"),
	ok("service", "cpu_period", "CFS period"),
	ok("service", "cpu_quota", "CFS quota"),
	ok("service", "cpu_rt_period", "real-time scheduler period"),
	ok("service", "cpu_rt_runtime", "real-time scheduler runtime"),
	ok("service", "cpu_shares", "relative CPU weight"),
	ok("service", "cpus", "CPU limit (deploy.resources.limits.cpus wins when both are set)"),
	ok("service", "cpuset", "CPUs the container may run on"),
	no("service", "credential_spec", whyWindows, "remove credential_spec:"),
	ok("service", "depends_on", "services are deployed in dependency order, each started and healthy (or ready) before the next; condition: service_completed_successfully is refused: berth runs long-lived services, and one that exits is a failed release"),
	ok("service", "deploy", "see the deploy rows"),
	ok("service", "develop", "ignored, as `docker compose up` ignores it: only `docker compose watch` reads it, and it never changes the container"),
	ok("service", "device_cgroup_rules", "device cgroup rules"),
	ok("service", "devices", "host devices mapped into the container; the policy judges them"),
	ok("service", "dns", "DNS servers"),
	ok("service", "dns_opt", "resolver options"),
	ok("service", "dns_search", "DNS search domains"),
	ok("service", "domainname", "the container's domain name"),
	ok("service", "entrypoint", "replaces the image's ENTRYPOINT"),
	ok("service", "env_file", "read when the project is loaded, as docker compose reads it; the values join environment:"),
	ok("service", "environment", "the container's environment; the policy warns on secrets taken from it"),
	ok("service", "expose", "exposed on every container (inspect shows it); publishes nothing, as in docker compose"),
	ok("service", "extends", "resolved when the project is loaded, as docker compose does"),
	no("service", "external_links", "links to containers outside the project by container name, which berth does not manage", "put those containers and this service on a shared external network (networks: with external: true) and use their names"),
	ok("service", "extra_hosts", "extra /etc/hosts entries"),
	ok("service", "gpus", "a device request (driver nvidia, capability gpu, count or device_ids); an engine without a GPU runtime refuses the container and the deploy stops before the switch"),
	ok("service", "group_add", "supplementary groups of the container's process"),
	ok("service", "healthcheck", "the container's HEALTHCHECK (test, interval, timeout, retries, start_period, disable); it gates the switch for services without a route; start_interval needs Engine API 1.44 and is refused"),
	ok("service", "hostname", "the container's hostname (the old and new release share it during a deploy)"),
	ok("service", "image", "the image to run; with build: the tag of the build"),
	ok("service", "init", "runs an init process as PID 1"),
	ok("service", "ipc", "IPC namespace (private, shareable, host, container:NAME); service:NAME only for an accessory, whose container keeps its name"),
	no("service", "isolation", whyWindows, "remove isolation:"),
	ok("service", "label_file", "read when the project is loaded; its labels join labels:"),
	ok("service", "labels", "container labels; berth adds its own berth.* labels, which win"),
	ok("service", "links", "each link becomes a DNS alias of the linked service on that service's networks (every service of the app resolves it, not only the linking one), and orders the deploy like depends_on"),
	ok("service", "logging", "log driver and options; without them berth sets json-file with rotation (10m x 3)"),
	ok("service", "mac_address", "on engines with API 1.44 or newer, for accessories only (two releases side by side cannot share one address); older engines refuse the deploy"),
	ok("service", "mem_limit", "memory limit (deploy.resources.limits.memory wins)"),
	ok("service", "mem_reservation", "memory soft limit (deploy.resources.reservations.memory wins)"),
	ok("service", "mem_swappiness", "swappiness"),
	ok("service", "memswap_limit", "memory plus swap limit"),
	no("service", "models", "Docker Model Runner models need Docker Desktop's model runner, which a production engine does not have", "remove models: and give the service the model server's address"),
	ok("service", "network_mode", "none (not for a routed service) and, for accessories, container:NAME and service:NAME; host and bridge are refused (they bypass the app network and berth-proxy), as is sharing a namespace for a replaced service"),
	ok("service", "networks", "the container joins each listed network with its aliases, ipv4_address, ipv6_address (accessories only: two releases cannot share an address), link_local_ips, driver_opts and priority (connect order); default is the app network berth-<app>"),
	ok("service", "oom_kill_disable", "disables the OOM killer for the container"),
	ok("service", "oom_score_adj", "OOM score adjustment"),
	ok("service", "pid", "PID namespace (host, container:NAME; service:NAME only for an accessory)"),
	ok("service", "pids_limit", "process limit (deploy.resources.limits.pids wins)"),
	ok("service", "platform", "the platform asked for at create; the image must exist for it"),
	ok("service", "ports", "short and long syntax, host IPs, tcp/udp, ranges: an accessory publishes them itself; a routed service or worker through its forwarder <app>-<service>-ports, which outlives releases and switches to the new release on deploy (docs/architecture.md, Published ports); a host port already taken is named before anything changes"),
	no("service", "post_start", "lifecycle hooks are not run by berth yet", "run the command from the image's entrypoint"),
	no("service", "pre_start", "lifecycle hooks are not run by berth yet", "run the command from the image's entrypoint, or before `berth deploy`"),
	no("service", "pre_stop", "lifecycle hooks are not run by berth yet", "handle stop_signal in the process"),
	ok("service", "privileged", "passed through; the policy blocks it unless waived"),
	ok("service", "profiles", "applied when the project is loaded, as docker compose does"),
	no("service", "provider", "provider services are run by docker compose plugins, which berth does not have", "run the resource the provider manages outside berth and pass its address in environment:"),
	ok("service", "pull_policy", "missing (and if_not_present): the image is pulled when the host lacks it, which is what berth does; build: built by deploy; always, never, daily, weekly and every_<duration> are refused"),
	no("service", "pull_refresh_after", "berth pulls an image only when the host lacks it", "remove pull_refresh_after: (pin a new tag to update)"),
	ok("service", "read_only", "read-only root filesystem"),
	ok("service", "restart", "restart policy; always becomes unless-stopped so the stopped releases kept for rollback stay stopped when the engine restarts"),
	ok("service", "runtime", "OCI runtime (runc, nvidia, ...)"),
	ok("service", "scale", "containers per host (see the replicas documentation)"),
	ok("service", "secrets", "file: bind-mounted read-only at /run/secrets/<name> (or target:); environment: and content: written into the container before it starts (mode 0444 unless mode: says otherwise, uid:/gid:); the value never appears in a label, a log line or an error"),
	ok("service", "security_opt", "security options; the policy judges them"),
	ok("service", "shm_size", "size of /dev/shm"),
	ok("service", "stdin_open", "keeps stdin open"),
	ok("service", "stop_grace_period", "time between the stop signal and SIGKILL, for the container and for berth's drain"),
	ok("service", "stop_signal", "the signal that stops the container"),
	ok("service", "storage_opt", "storage driver options"),
	ok("service", "sysctls", "namespaced kernel parameters"),
	ok("service", "tmpfs", "tmpfs mounts, with size= and mode= options"),
	ok("service", "tty", "allocates a TTY"),
	ok("service", "ulimits", "resource limits (single value or soft/hard)"),
	no("service", "umask", "the Engine API of the engines berth supports has no umask setting", "set the umask in the image's entrypoint"),
	no("service", "use_api_socket", "it hands the container the engine's socket and the registry credentials: root on the host", "remove use_api_socket:"),
	ok("service", "user", "the user the process runs as"),
	ok("service", "userns_mode", "user namespace mode"),
	ok("service", "uts", "UTS namespace"),
	ok("service", "volumes", "short and long syntax: bind (read_only, create_host_path, propagation, selinux), volume (nocopy; subpath on API 1.45+), tmpfs (size, mode: a number as YAML reads it, so write 01777, as for docker compose); consistency is accepted and, as on any Linux engine, has no effect; npipe, cluster and image mounts, bind recursive and labels on a mount are refused"),
	ok("service", "volumes_from", "container:NAME, and service names of accessories (whose container keeps its name); a replaced service is refused: its container changes every release"),
	ok("service", "working_dir", "the process's working directory"),
	no("service", "dockerfile", whyLegacy, "move it to build.dockerfile"),
	no("service", "log_driver", whyLegacy, "use logging.driver"),
	no("service", "log_opt", whyLegacy, "use logging.options"),
	no("service", "net", whyLegacy, "use network_mode"),
	no("service", "volume_driver", whyLegacy, "declare the volume under top-level volumes: with driver:"),

	no("deploy", "endpoint_mode", whySwarm, "remove it: berth-proxy and the app network's DNS reach the service"),
	no("deploy", "labels", "labels of a Swarm service, not of its containers", "move them to the service's labels:"),
	ok("deploy", "mode", "replicated (the default) and global (one container on each of the service's hosts); replicated-job and global-job are refused"),
	no("deploy", "placement", "berth.yaml places services", "use services.<name>.hosts in berth.yaml"),
	ok("deploy", "replicas", "containers per host (see the replicas documentation)"),
	ok("deploy", "resources", "limits: cpus, memory, pids; reservations: memory (soft limit) and devices (device requests, such as GPUs); reservations.cpus is refused (no engine setting outside Swarm: use cpu_shares), generic_resources too"),
	ok("deploy", "restart_policy", "condition (none, on-failure, any) and max_attempts set the restart policy; delay and window are refused: the engine has no such setting outside Swarm"),
	no("deploy", "rollback_config", "berth.yaml drives rollouts and rollbacks", "use services.<name>.deploy in berth.yaml (parallel, drain, health_timeout)"),
	no("deploy", "update_config", "berth.yaml drives rollouts", "use services.<name>.deploy in berth.yaml (parallel, drain, health_timeout)"),

	ok("network", "attachable", "set on the created network"),
	ok("network", "driver", "the network driver (default bridge)"),
	ok("network", "driver_opts", "driver options"),
	ok("network", "enable_ipv4", "true (the default) is accepted; false needs Engine API 1.47 and is refused"),
	ok("network", "enable_ipv6", "IPv6 on the network"),
	ok("network", "external", "the network must exist on every host; a deploy that finds it missing stops, naming it, before anything changes; berth never creates or removes it"),
	ok("network", "internal", "no route out of the network"),
	ok("network", "ipam", "driver, options and config (subnet, ip_range, gateway, aux_addresses)"),
	ok("network", "labels", "set on the created network, beside berth's own"),
	ok("network", "name", "the engine name (default <app>_<key>)"),

	ok("volume", "driver", "the volume driver"),
	ok("volume", "driver_opts", "driver options"),
	ok("volume", "external", "the volume must exist on every host; a deploy that finds it missing stops, naming it, before anything changes; berth never creates or removes it"),
	ok("volume", "labels", "set on the created volume, beside berth's own"),
	ok("volume", "name", "the engine name (default <app>_<key>)"),

	ok("config", "content", "written into the container before it starts"),
	no("config", "driver", "config drivers are Swarm plugins", "give the config a file:, content: or environment:"),
	no("config", "driver_opts", "config drivers are Swarm plugins", "give the config a file:, content: or environment:"),
	ok("config", "environment", "the variable's value, written into the container before it starts"),
	no("config", "external", "Swarm config objects exist only in Swarm", "give the config a file:, content: or environment:"),
	ok("config", "file", "bind-mounted read-only"),
	no("config", "labels", whySwarm, "remove labels:"),
	ok("config", "name", "accepted: it names a Swarm object, and outside Swarm there is none to name"),
	no("config", "template_driver", "templated configs are rendered by Swarm", "render the file before the deploy"),

	ok("secret", "content", "the Compose Specification allows content: for configs only, so compose-go refuses it here before berth reads the file; were it allowed, berth would write it in like environment:"),
	no("secret", "driver", "secret drivers are Swarm plugins", "give the secret a file: or environment:"),
	no("secret", "driver_opts", "secret drivers are Swarm plugins", "give the secret a file: or environment:"),
	ok("secret", "environment", "the variable's value, written into the container before it starts; never in a label, a log line or an error"),
	no("secret", "external", "Swarm secret objects exist only in Swarm", "give the secret a file: or environment:"),
	ok("secret", "file", "bind-mounted read-only"),
	no("secret", "labels", whySwarm, "remove labels:"),
	ok("secret", "name", "accepted: it names a Swarm object, and outside Swarm there is none to name"),
	no("secret", "template_driver", "templated secrets are rendered by Swarm", "render the file before the deploy"),
}

// keyIndex finds a table row by scope and key.
var keyIndex = func() map[[2]string]composeKey {
	m := make(map[[2]string]composeKey, len(composeKeys))
	for _, k := range composeKeys {
		m[[2]string{k.Scope, k.Key}] = k
	}
	return m
}()
